/* make demo's leak: a toy request-handling service. It parses requests,
 * builds responses, keeps the last log lines and a small session cache, all
 * freed properly, and audits failed requests, where one record per failure
 * is never freed. Run it under `bin/ebbmalloc --leak` and jeprof names
 * audit_failure as the place that allocated the leaked memory.
 *
 *   prof_demo [REQUESTS]    (default 10000; one request in ten fails)
 *   prof_demo serve         20000 requests a second until killed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_KEEP 64
#define SESSIONS 128

typedef struct request {
	char *path;
	char *body;
	size_t len;
	int status;
} request_t;

typedef struct audit_record {
	int status;
	char path[60];
	char detail[188];
} audit_record_t;	/* 256 bytes */

static char *log_ring[LOG_KEEP];
static unsigned log_next;
static char *sessions[SESSIONS];
static audit_record_t *last_audit;
static unsigned seed = 12345;

static unsigned rnd(void)
{
	seed = seed * 1103515245 + 12345;
	return seed >> 16;
}

__attribute__((noinline)) request_t *parse_request(unsigned i)
{
	request_t *r = malloc(sizeof(*r));
	r->path = malloc(48);
	snprintf(r->path, 48, "/api/items/%u", i % 977);
	r->len = 64 + rnd() % 2000;
	r->body = malloc(r->len);
	memset(r->body, 'x', r->len);
	r->status = i % 10 == 7 ? 500 : 200;	/* one request in ten fails */
	return r;
}

__attribute__((noinline)) void handle_request(request_t *r)
{
	size_t n = r->len * 2;
	char *response = malloc(n);
	memcpy(response, r->body, r->len);
	memcpy(response + r->len, r->body, r->len);
	free(response);
}

__attribute__((noinline)) void remember_session(request_t *r, unsigned i)
{
	/* A bounded cache: the slot's old entry is freed. */
	unsigned slot = i % SESSIONS;
	free(sessions[slot]);
	sessions[slot] = strdup(r->path);
}

__attribute__((noinline)) void log_request(request_t *r)
{
	char *line = malloc(96);
	snprintf(line, 96, "%d %s %zu bytes", r->status, r->path, r->len);
	free(log_ring[log_next % LOG_KEEP]);	/* keep the last LOG_KEEP lines */
	log_ring[log_next++ % LOG_KEEP] = line;
}

__attribute__((noinline)) void audit_failure(request_t *r)
{
	audit_record_t *a = malloc(sizeof(*a));
	a->status = r->status;
	snprintf(a->path, sizeof(a->path), "%s", r->path);
	snprintf(a->detail, sizeof(a->detail), "request body of %zu bytes", r->len);
	/* The bug: the record is handed to nobody and never freed. */
	last_audit = a;
}

__attribute__((noinline)) void free_request(request_t *r)
{
	free(r->body);
	free(r->path);
	free(r);
}

/* Handles n requests; returns how many failed. */
static unsigned serve(unsigned n)
{
	static unsigned next;
	unsigned failed = 0;
	for (unsigned k = 0; k < n; k++, next++) {
		request_t *r = parse_request(next);
		handle_request(r);
		remember_session(r, next);
		log_request(r);
		if (r->status != 200) {
			audit_failure(r);
			failed++;
		}
		free_request(r);
	}
	return failed;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "serve")) {
		/* A long-running service: 20000 requests a second until killed. */
		printf("prof_demo: serving 20000 requests a second until killed (pid %d)\n", (int)getpid());
		fflush(stdout);
		for (;;) {
			serve(20000);
			sleep(1);
		}
	}
	unsigned requests = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 10000;
	printf("prof_demo: a toy service handling %u requests\n", requests);
	unsigned failed = serve(requests);
	printf("  parse_request, handle_request: %u requests, every buffer freed\n", requests);
	printf("  remember_session: %d sessions cached, older ones freed\n", SESSIONS);
	printf("  log_request: last %d log lines kept, older ones freed\n", LOG_KEEP);
	if (last_audit)
		printf("  audit_failure: %u failed requests audited (last: %d %s)\n", failed, last_audit->status,
		       last_audit->path);
	/* Shutting down: the caches go. */
	for (unsigned i = 0; i < SESSIONS; i++)
		free(sessions[i]);
	for (unsigned i = 0; i < LOG_KEEP; i++)
		free(log_ring[i]);
	printf("prof_demo: shut down cleanly... or did it?\n");
	fflush(stdout);
	return 0;
}
