#!/usr/bin/env bash
# perl (Debian's, which uses the system malloc) with hashes, strings, sort,
# regexes, split/join and sprintf; deterministic output (fixed hash seed,
# sorted keys). stdout must equal the glibc run's; ebbmalloc's stderr holds
# its stats marker and nothing else.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need perl
export PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0
unset PERL5LIB PERL5OPT PERLLIB

cat >"$tmp/work.pl" <<'PL'
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

my $seed = 12345;
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed; }

my $ctx = Digest::MD5->new;
sub section { my $name = shift; my $line = join(' ', "$name:", @_); $ctx->add($line); print "$line\n"; }

# Hashes: build, update, delete, nested.
for my $round (0 .. 4) {
    my %h;
    for my $i (1 .. 60000) {
        my $k = sprintf("key%06d-%x", $i, rnd() % 65536);
        $h{$k} = "v" x ($i % 41) . $i;
    }
    my @keys = sort keys %h;
    my $len = 0;
    $len += length($h{$_}) for @keys;
    delete @h{ @keys[ grep { $_ % 2 } 0 .. $#keys ] };
    my %nest;
    push @{ $nest{ substr($_, 0, 5) } }, $_ for keys %h;
    section("hash$round", scalar(@keys), $keys[0], $keys[-1], $len, scalar(keys %h), scalar(keys %nest));
}

# Strings: concatenation, substr, repetition, reverse, join/split.
my $s = '';
for my $i (1 .. 200000) {
    $s .= chr(97 + $i % 26) x (1 + $i % 5);
    $s = substr($s, length($s) / 2) if length($s) > 300000;
}
my @parts = split /(?<=z)/, $s;
my $joined = join '|', reverse @parts;
section("strings", length($s), scalar(@parts), length($joined), md5_hex($joined));

# Sort: numbers, strings, a Schwartzian transform.
my @nums = map { rnd() % 1000000 } 1 .. 200000;
my @sorted = sort { $a <=> $b } @nums;
my @words = map { sprintf("%s%d", chr(65 + $_ % 26) x (1 + $_ % 7), $_ % 1000) } @nums[0 .. 99999];
my @by_len = map { $_->[1] } sort { $a->[0] <=> $b->[0] or $a->[1] cmp $b->[1] } map { [length, $_] } @words;
section("sort", $sorted[0], $sorted[-1], $sorted[100000], $by_len[0], $by_len[-1], md5_hex(join ',', @by_len[0 .. 999]));

# Regexes: matches, captures, substitutions, tr.
my $text = join ' ', map { "item$_=" . ($_ * 7 % 1000) } 1 .. 100000;
my @caps = $text =~ /item(\d+)=(99\d)\b/g;
(my $t2 = $text) =~ s/item(\d+)=(\d+)/$2:$1/g;
my $count = ($t2 =~ tr/0-9//);
my %freq;
$freq{$1}++ while $text =~ /=(\d)/g;
section("regex", scalar(@caps), length($t2), $count, join(',', map { "$_=$freq{$_}" } sort keys %freq));

# Big strings and arrays freed and rebuilt.
my $acc = 0;
for my $i (0 .. 30) {
    my $big = "x" x ((64 << 10) << ($i % 8));
    my @arr = (1 .. 1000 * ($i % 10 + 1));
    $acc = ($acc * 31 + length($big) + scalar(@arr)) % 1000000007;
}
section("big", $acc);
print "total ", $ctx->hexdigest, "\n";
PL

run_glibc glibc perl "$tmp/work.pl"
expect_status "perl on glibc: exit 0" 0
expect_match "perl on glibc: produced the summary" '^total [0-9a-f]{32}$' "$(tail -n 1 "$tmp/glibc.out")"

run_ebb ebb perl "$tmp/work.pl"
expect_status "perl on ebbmalloc: exit 0" 0
expect_same_file "perl on ebbmalloc: same stdout as glibc" "$tmp/glibc.out" "$tmp/ebb.out"
expect_marker "perl on ebbmalloc: stats marker" "$tmp/ebb.err"
expect_same_stderr "perl on ebbmalloc: nothing else on stderr" "$tmp/glibc.err" "$tmp/ebb.err"

finish
