/* Works out the unwind rule at one pc from .eh_frame: finds the FDE through
 * libgcc (linked in statically and hidden, see the Makefile), then parses
 * its CIE and runs the CFA program up to the pc. The data are the loaded
 * objects' own tables, but every read is still bounded by its record, so a
 * malformed table gives "unsupported" rather than a wild read. */
#include "prof_cfi.h"

#include <errno.h>
#include <stddef.h>

#if defined(__x86_64__)

/* libgcc's lookup, from unwind-dw2-fde.h (not an installed header). */
extern const void *_Unwind_Find_FDE(void *pc, cfi_bases_t *bases);

/* DWARF register numbers of the x86-64 psABI. */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

/* Pointer encodings (DW_EH_PE_*). */
#define PE_OMIT 0xff
#define PE_FORMAT 0x0f
#define PE_APPLY 0x70
#define PE_INDIRECT 0x80
#define PE_ALIGNED 0x50

/* Saved-register rules we tell apart; HOW_OTHER is any rule we cannot
 * follow (in a register, an expression, a value rule). */
enum { HOW_SAME, HOW_OFFSET, HOW_UNDEF, HOW_OTHER };

typedef struct {
	uint64_t cfa_reg;
	int64_t cfa_off;
	bool cfa_expr;
	unsigned rbp_how, ra_how;
	int64_t rbp_off, ra_off;
} row_t;

/* remember_state nests this deep in practice (one level in gcc's output);
 * deeper nesting is treated as unsupported. */
#define STATE_MAX 8

typedef struct {
	const uint8_t *p, *end;
	bool bad;
} cur_t;

typedef struct {
	uint64_t code_align;
	int64_t data_align;
	uint8_t fde_enc;
	bool z;			/* FDEs carry augmentation data */
	bool bad;
	const uint8_t *insns, *end;
} cie_t;

typedef struct {
	row_t row, init;
	row_t saved[STATE_MAX];
	unsigned depth;
	uintptr_t loc, pc;
	const cie_t *cie;
	const cfi_bases_t *bases;
} state_t;

static uint8_t get_u8(cur_t *c)
{
	if (c->p >= c->end) {
		c->bad = true;
		return 0;
	}
	return *c->p++;
}

/* Little-endian, n bytes. */
static uint64_t get_fixed(cur_t *c, unsigned n)
{
	if ((size_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return 0;
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

/* A LEB128 number's bits; *shift and *last tell get_sleb where its sign is. */
static uint64_t get_leb(cur_t *c, unsigned *shift, uint8_t *last)
{
	uint64_t v = 0;
	unsigned sh = 0;
	uint8_t b;
	do {
		b = get_u8(c);
		if (sh < 64)
			v |= (uint64_t)(b & 0x7f) << sh;
		sh += 7;
	} while ((b & 0x80) && !c->bad);
	*shift = sh;
	*last = b;
	return v;
}

static uint64_t get_uleb(cur_t *c)
{
	unsigned shift;
	uint8_t last;
	return get_leb(c, &shift, &last);
}

static int64_t get_sleb(cur_t *c)
{
	unsigned shift;
	uint8_t last;
	uint64_t v = get_leb(c, &shift, &last);
	if (shift < 64 && (last & 0x40))
		v |= ~(uint64_t)0 << shift;
	return (int64_t)v;
}

static int64_t sign_extend(uint64_t v, unsigned bytes)
{
	unsigned shift = 64 - 8 * bytes;
	return (int64_t)(v << shift) >> shift;
}

/* A pointer in encoding enc. apply: add its base (pcrel, datarel, ...) and
 * follow indirect; without it only the field's value, for fields we skip
 * or that are lengths (an FDE's address range). */
static uintptr_t get_encoded(cur_t *c, uint8_t enc, const cfi_bases_t *b, bool apply)
{
	if (enc == PE_OMIT)
		return 0;
	const uint8_t *at = c->p;
	if ((enc & PE_APPLY) == PE_ALIGNED) {
		uintptr_t a = ((uintptr_t)c->p + 7) & ~(uintptr_t)7;
		if (a > (uintptr_t)c->end) {
			c->bad = true;
			return 0;
		}
		c->p = (const uint8_t *)a;
		return (uintptr_t)get_fixed(c, 8);
	}
	uint64_t v;
	switch (enc & PE_FORMAT) {
	case 0x00: v = get_fixed(c, 8); break;				/* absptr */
	case 0x01: v = get_uleb(c); break;				/* uleb128 */
	case 0x02: v = get_fixed(c, 2); break;				/* udata2 */
	case 0x03: v = get_fixed(c, 4); break;				/* udata4 */
	case 0x04: v = get_fixed(c, 8); break;				/* udata8 */
	case 0x09: v = (uint64_t)get_sleb(c); break;			/* sleb128 */
	case 0x0a: v = (uint64_t)sign_extend(get_fixed(c, 2), 2); break;	/* sdata2 */
	case 0x0b: v = (uint64_t)sign_extend(get_fixed(c, 4), 4); break;	/* sdata4 */
	case 0x0c: v = get_fixed(c, 8); break;				/* sdata8 */
	default:
		c->bad = true;
		return 0;
	}
	if (!apply)
		return (uintptr_t)v;
	switch (enc & PE_APPLY) {
	case 0x00: break;						/* absolute */
	case 0x10: v += (uintptr_t)at; break;				/* pcrel */
	case 0x20: v += (uintptr_t)b->tbase; c->bad |= !b->tbase; break;	/* textrel */
	case 0x30: v += (uintptr_t)b->dbase; c->bad |= !b->dbase; break;	/* datarel */
	case 0x40: v += (uintptr_t)b->func; break;			/* funcrel */
	default:
		c->bad = true;
		return 0;
	}
	/* An indirect code address (set_loc) would be a table we have no
	 * reason to trust; no compiler emits one. */
	if (enc & PE_INDIRECT)
		c->bad = true;
	return (uintptr_t)v;
}

/* A record's body: [p+4, p+4+length). 64-bit DWARF records (length
 * 0xffffffff) and terminators do not appear in the tables we are given. */
static bool record(const uint8_t *p, cur_t *c)
{
	uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	if (len == 0 || len == 0xffffffffu)
		return false;
	c->p = p + 4;
	c->end = p + 4 + len;
	c->bad = false;
	return true;
}

static void parse_cie(const uint8_t *p, const cfi_bases_t *b, cie_t *cie)
{
	cur_t c;
	cie->bad = true;
	if (!record(p, &c) || get_fixed(&c, 4) != 0)
		return;
	uint8_t version = get_u8(&c);
	if (version != 1 && version != 3 && version != 4)
		return;
	const char *aug = (const char *)c.p;
	while (get_u8(&c))
		;
	if (c.bad)
		return;
	if (version == 4) {
		/* address and segment selector sizes */
		if (get_u8(&c) != 8 || get_u8(&c) != 0)
			return;
	}
	cie->code_align = get_uleb(&c);
	cie->data_align = get_sleb(&c);
	uint64_t ra_col = version == 1 ? get_u8(&c) : get_uleb(&c);
	if (ra_col != REG_RA)
		return;
	cie->fde_enc = 0;	/* absptr */
	cie->z = aug[0] == 'z';
	if (cie->z) {
		uint64_t n = get_uleb(&c);
		if (c.bad || n > (uint64_t)(c.end - c.p))
			return;
		cur_t a = { c.p, c.p + n, false };
		for (const char *s = aug + 1; *s; s++) {
			switch (*s) {
			case 'R':
				cie->fde_enc = get_u8(&a);
				break;
			case 'P':
				get_encoded(&a, get_u8(&a), b, false);
				break;
			case 'L':
				get_u8(&a);
				break;
			case 'B':	/* AArch64 BTI marker: no data, changes nothing here */
				break;
			default:	/* 'S' (signal frame) and anything unknown */
				return;
			}
		}
		if (a.bad)
			return;
		c.p += n;
	} else if (aug[0]) {
		return;	/* "eh" and other pre-'z' forms */
	}
	if (c.bad || cie->code_align == 0)
		return;
	cie->insns = c.p;
	cie->end = c.end;
	cie->bad = false;
}

static void set_reg(row_t *r, uint64_t reg, unsigned how, int64_t off)
{
	if (reg == REG_RBP) {
		r->rbp_how = how;
		r->rbp_off = off;
	} else if (reg == REG_RA) {
		r->ra_how = how;
		r->ra_off = off;
	}
	/* Other registers are not needed to find return addresses. */
}

static void restore_reg(state_t *s, uint64_t reg)
{
	if (reg == REG_RBP) {
		s->row.rbp_how = s->init.rbp_how;
		s->row.rbp_off = s->init.rbp_off;
	} else if (reg == REG_RA) {
		s->row.ra_how = s->init.ra_how;
		s->row.ra_off = s->init.ra_off;
	}
}

enum { RUN_END, RUN_AT_PC, RUN_BAD };

/* Moves to a new location; false once it is past the pc, whose row is then
 * the current one. */
static bool advance(state_t *s, uintptr_t to)
{
	if (to > s->pc)
		return false;
	s->loc = to;
	return true;
}

static int run(state_t *s, cur_t *c)
{
	const cie_t *cie = s->cie;
	row_t *r = &s->row;
	while (c->p < c->end) {
		uint8_t op = get_u8(c);
		uint64_t reg, n;
		switch (op >> 6) {
		case 1:	/* advance_loc */
			if (!advance(s, s->loc + (op & 0x3f) * cie->code_align))
				return RUN_AT_PC;
			continue;
		case 2:	/* offset */
			n = get_uleb(c);
			set_reg(r, op & 0x3f, HOW_OFFSET, (int64_t)n * cie->data_align);
			continue;
		case 3:	/* restore */
			restore_reg(s, op & 0x3f);
			continue;
		}
		switch (op) {
		case 0x00:	/* nop */
			break;
		case 0x01:	/* set_loc */
			n = get_encoded(c, cie->fde_enc, s->bases, true);
			if (!c->bad && !advance(s, n))
				return RUN_AT_PC;
			break;
		case 0x02:	/* advance_loc1 */
		case 0x03:	/* advance_loc2 */
		case 0x04:	/* advance_loc4 */
			n = get_fixed(c, op == 0x02 ? 1 : op == 0x03 ? 2 : 4);
			if (!c->bad && !advance(s, s->loc + n * cie->code_align))
				return RUN_AT_PC;
			break;
		case 0x05:	/* offset_extended */
			reg = get_uleb(c);
			n = get_uleb(c);
			set_reg(r, reg, HOW_OFFSET, (int64_t)n * cie->data_align);
			break;
		case 0x06:	/* restore_extended */
			restore_reg(s, get_uleb(c));
			break;
		case 0x07:	/* undefined */
			set_reg(r, get_uleb(c), HOW_UNDEF, 0);
			break;
		case 0x08:	/* same_value */
			set_reg(r, get_uleb(c), HOW_SAME, 0);
			break;
		case 0x09:	/* register */
			reg = get_uleb(c);
			get_uleb(c);
			set_reg(r, reg, HOW_OTHER, 0);
			break;
		case 0x0a:	/* remember_state */
			if (s->depth == STATE_MAX)
				return RUN_BAD;
			s->saved[s->depth++] = *r;
			break;
		case 0x0b:	/* restore_state */
			if (s->depth == 0)
				return RUN_BAD;
			*r = s->saved[--s->depth];
			break;
		case 0x0c:	/* def_cfa */
			r->cfa_reg = get_uleb(c);
			r->cfa_off = (int64_t)get_uleb(c);
			r->cfa_expr = false;
			break;
		case 0x0d:	/* def_cfa_register: only meaningful after a def_cfa,
				 * so an expression rule stays one */
			r->cfa_reg = get_uleb(c);
			break;
		case 0x0e:	/* def_cfa_offset */
			r->cfa_off = (int64_t)get_uleb(c);
			break;
		case 0x0f:	/* def_cfa_expression */
			n = get_uleb(c);
			if (n > (uint64_t)(c->end - c->p))
				return RUN_BAD;
			c->p += n;
			r->cfa_expr = true;
			break;
		case 0x10:	/* expression */
		case 0x16:	/* val_expression */
			reg = get_uleb(c);
			n = get_uleb(c);
			if (n > (uint64_t)(c->end - c->p))
				return RUN_BAD;
			c->p += n;
			set_reg(r, reg, HOW_OTHER, 0);
			break;
		case 0x11:	/* offset_extended_sf */
			reg = get_uleb(c);
			set_reg(r, reg, HOW_OFFSET, get_sleb(c) * cie->data_align);
			break;
		case 0x12:	/* def_cfa_sf */
			r->cfa_reg = get_uleb(c);
			r->cfa_off = get_sleb(c) * cie->data_align;
			r->cfa_expr = false;
			break;
		case 0x13:	/* def_cfa_offset_sf */
			r->cfa_off = get_sleb(c) * cie->data_align;
			break;
		case 0x14:	/* val_offset */
			reg = get_uleb(c);
			get_uleb(c);
			set_reg(r, reg, HOW_OTHER, 0);
			break;
		case 0x15:	/* val_offset_sf */
			reg = get_uleb(c);
			get_sleb(c);
			set_reg(r, reg, HOW_OTHER, 0);
			break;
		case 0x2e:	/* GNU_args_size: only matters for landing pads */
			get_uleb(c);
			break;
		case 0x2f:	/* GNU_negative_offset_extended */
			reg = get_uleb(c);
			n = get_uleb(c);
			set_reg(r, reg, HOW_OFFSET, -(int64_t)n * cie->data_align);
			break;
		default:	/* DW_CFA_GNU_window_save, vendor opcodes, garbage */
			return RUN_BAD;
		}
		if (c->bad)
			return RUN_BAD;
	}
	return c->bad ? RUN_BAD : RUN_END;
}

static void from_row(const row_t *row, cfi_rule_t *r)
{
	r->kind = CFI_UNSUPPORTED;
	if (row->ra_how == HOW_UNDEF) {
		/* glibc's _start and clone mark the outermost frame so */
		r->kind = CFI_END;
		return;
	}
	if (row->cfa_expr || (row->cfa_reg != REG_RSP && row->cfa_reg != REG_RBP))
		return;
	if (row->ra_how != HOW_OFFSET || row->ra_off != -8)
		return;
	if (row->rbp_how != HOW_SAME && row->rbp_how != HOW_OFFSET)
		return;
	r->kind = CFI_FRAME;
	r->cfa_rbp = row->cfa_reg == REG_RBP;
	r->cfa_off = row->cfa_off;
	r->rbp_saved = row->rbp_how == HOW_OFFSET;
	r->rbp_off = r->rbp_saved ? row->rbp_off : 0;
}

void cfi_rule_from_fde(const uint8_t *fde, const cfi_bases_t *b, uintptr_t pc, cfi_rule_t *r)
{
	r->kind = CFI_UNSUPPORTED;
	cur_t c;
	if (!record(fde, &c))
		return;
	const uint8_t *cie_ptr_at = c.p;
	uint32_t delta = (uint32_t)get_fixed(&c, 4);
	if (delta == 0 || delta > (uintptr_t)cie_ptr_at)
		return;	/* a CIE, not an FDE */
	cie_t cie;
	parse_cie(cie_ptr_at - delta, b, &cie);
	if (cie.bad)
		return;
	get_encoded(&c, cie.fde_enc, b, false);			/* initial location */
	get_encoded(&c, cie.fde_enc & PE_FORMAT, b, false);	/* address range */
	if (cie.z) {
		uint64_t n = get_uleb(&c);
		if (n > (uint64_t)(c.end - c.p))
			return;
		c.p += n;
	}
	if (c.bad)
		return;

	state_t s = { .cie = &cie, .bases = b, .loc = (uintptr_t)b->func, .pc = pc };
	/* Until the CIE says otherwise: no CFA, and no return address. */
	s.row.cfa_reg = ~(uint64_t)0;
	s.row.ra_how = HOW_OTHER;
	s.row.rbp_how = HOW_SAME;
	s.init = s.row;
	cur_t ci = { cie.insns, cie.end, false };
	int st = run(&s, &ci);
	if (st == RUN_BAD)
		return;
	s.init = s.row;
	s.depth = 0;
	if (st == RUN_END && run(&s, &c) == RUN_BAD)
		return;
	from_row(&s.row, r);
}

void cfi_rule_at(uintptr_t pc, cfi_rule_t *r)
{
	int saved = errno;
	cfi_bases_t b = { 0 };
	const uint8_t *fde = _Unwind_Find_FDE((void *)pc, &b);
	errno = saved;
	if (!fde) {
		r->kind = CFI_NO_FDE;
		return;
	}
	cfi_rule_from_fde(fde, &b, pc, r);
}

#else	/* !__x86_64__: every pc needs libgcc */

void cfi_rule_at(uintptr_t pc, cfi_rule_t *r)
{
	(void)pc;
	r->kind = CFI_UNSUPPORTED;
}

void cfi_rule_from_fde(const uint8_t *fde, const cfi_bases_t *b, uintptr_t pc, cfi_rule_t *r)
{
	(void)fde;
	(void)b;
	(void)pc;
	r->kind = CFI_UNSUPPORTED;
}

#endif
