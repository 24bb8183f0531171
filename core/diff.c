/*
 * diff.c - unified diffs in the format of GNU "diff -u".
 *
 * Lines are reduced to integer ids, compared with Myers' O(ND) algorithm
 * in its linear-space form (divide at the middle snake), and the changes
 * are then slid to the same canonical place GNU diff chooses, so that the
 * output matches what an administrator gets from diff -u.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "diff.h"

struct line {
	const char *s;
	size_t len; /* including the '\n', if there is one */
};

struct file {
	struct line *lines;
	size_t n;
	int *id;
	char *changed; /* n + 1 entries, the last always 0 */
	/* Lines [lo, hi) take part in the comparison: GNU diff leaves all but
	 * `context` lines of the common prefix and suffix out, which limits
	 * where changes can slide to. */
	size_t lo, hi;
	/* The lines handed to Myers (not discarded) and their line numbers. */
	int *kept;
	size_t *real;
	size_t nkept;
};

struct myers {
	const struct file *a, *b;
	long *fd, *bd; /* indexed by diagonal x - y */
};

static void split_lines(const char *text, size_t len, struct file *f)
{
	size_t n = 0, cap = 16;
	const char *p = text, *end = text + len;

	f->lines = xmalloc(cap * sizeof(*f->lines));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;

		if (n == cap) {
			cap *= 2;
			f->lines = xrealloc(f->lines, cap * sizeof(*f->lines));
		}
		f->lines[n].s = p;
		f->lines[n].len = (size_t)(next - p);
		n++;
		p = next;
	}
	f->n = n;
	f->id = xcalloc(n + 1, sizeof(int));
	f->changed = xcalloc(n + 1, 1);
}

static uint64_t hash_line(const struct line *l)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < l->len; i++)
		h = (h ^ (unsigned char)l->s[i]) * 1099511628211ULL;
	return h;
}

/* Gives equal lines of both files the same id. */
static int assign_ids(struct file *a, struct file *b)
{
	size_t size = 16, mask;
	const struct line **slot;
	int *slot_id, next_id = 0;
	struct file *files[2] = {a, b};

	while (size < 2 * (a->n + b->n))
		size *= 2;
	mask = size - 1;
	slot = xcalloc(size, sizeof(*slot));
	slot_id = xcalloc(size, sizeof(*slot_id));
	for (int k = 0; k < 2; k++) {
		struct file *f = files[k];

		for (size_t i = 0; i < f->n; i++) {
			const struct line *l = &f->lines[i];
			size_t h = (size_t)hash_line(l) & mask;

			while (slot[h] != NULL && (slot[h]->len != l->len ||
						   memcmp(slot[h]->s, l->s, l->len) != 0))
				h = (h + 1) & mask;
			if (slot[h] == NULL) {
				slot[h] = l;
				slot_id[h] = next_id++;
			}
			f->id[i] = slot_id[h];
		}
	}
	free(slot);
	free(slot_id);
	return next_id;
}

/*
 * Finds a point (*xmid, *ymid) on an optimal edit path of x[xoff,xlim) and
 * y[yoff,ylim) by running the search from both ends until they meet.
 */
static void middle_snake(struct myers *m, long xoff, long xlim, long yoff, long ylim,
			 long *xmid, long *ymid)
{
	const int *xv = m->a->kept, *yv = m->b->kept;
	long *fd = m->fd, *bd = m->bd;
	long dmin = xoff - ylim, dmax = xlim - yoff;
	long fmid = xoff - yoff, bmid = xlim - ylim;
	long fmin = fmid, fmax = fmid, bmin = bmid, bmax = bmid;
	bool odd = (fmid - bmid) & 1;

	fd[fmid] = xoff;
	bd[bmid] = xlim;
	for (;;) {
		if (fmin > dmin)
			fd[--fmin - 1] = -1;
		else
			++fmin;
		if (fmax < dmax)
			fd[++fmax + 1] = -1;
		else
			--fmax;
		for (long d = fmax; d >= fmin; d -= 2) {
			long tlo = fd[d - 1], thi = fd[d + 1];
			long x = tlo >= thi ? tlo + 1 : thi, y = x - d;

			while (x < xlim && y < ylim && xv[x] == yv[y])
				x++, y++;
			fd[d] = x;
			if (odd && bmin <= d && d <= bmax && bd[d] <= x) {
				*xmid = x;
				*ymid = y;
				return;
			}
		}
		if (bmin > dmin)
			bd[--bmin - 1] = LONG_MAX;
		else
			++bmin;
		if (bmax < dmax)
			bd[++bmax + 1] = LONG_MAX;
		else
			--bmax;
		for (long d = bmax; d >= bmin; d -= 2) {
			long tlo = bd[d - 1], thi = bd[d + 1];
			long x = tlo < thi ? tlo : thi - 1, y = x - d;

			while (x > xoff && y > yoff && xv[x - 1] == yv[y - 1])
				x--, y--;
			bd[d] = x;
			if (!odd && fmin <= d && d <= fmax && x <= fd[d]) {
				*xmid = x;
				*ymid = y;
				return;
			}
		}
	}
}

static void compare(struct myers *m, struct file *a, struct file *b,
		    long xoff, long xlim, long yoff, long ylim)
{
	const int *xv = a->kept, *yv = b->kept;
	long xmid, ymid;

	while (xoff < xlim && yoff < ylim && xv[xoff] == yv[yoff])
		xoff++, yoff++;
	while (xlim > xoff && ylim > yoff && xv[xlim - 1] == yv[ylim - 1])
		xlim--, ylim--;
	if (xoff == xlim) {
		while (yoff < ylim)
			b->changed[b->real[yoff++]] = 1;
		return;
	}
	if (yoff == ylim) {
		while (xoff < xlim)
			a->changed[a->real[xoff++]] = 1;
		return;
	}
	middle_snake(m, xoff, xlim, yoff, ylim, &xmid, &ymid);
	compare(m, a, b, xoff, xmid, yoff, ymid);
	compare(m, a, b, xmid, xlim, ymid, ylim);
}

/* Position in the other file after skipping its changed lines. */
static size_t skip_changed(const struct file *o, size_t j)
{
	while (j < o->hi && o->changed[j])
		j++;
	return j;
}

/*
 * A run of changes between equal lines can often sit in several places
 * ("a\nb\n" -> "a\nb\nb\n").  Like GNU diff: merge runs where possible,
 * put a run as low as it goes, unless it can line up with a change in the
 * other file.  j tracks the line of o that matches the first unchanged
 * line at or after position i of f.
 */
static void shift_boundaries(struct file *f, const struct file *o)
{
	char *ch = f->changed;
	const int *id = f->id;
	size_t lo = f->lo, hi = f->hi, i = lo, j = skip_changed(o, o->lo);

	for (;;) {
		size_t start, end, runlength, corresponding;

		while (i < hi && !ch[i]) {
			i++;
			j = skip_changed(o, j + 1);
		}
		if (i == hi)
			break;
		start = i;
		while (i < hi && ch[i])
			i++;
		end = i;
		do {
			runlength = end - start;
			while (start > lo && id[start - 1] == id[end - 1]) {
				ch[--start] = 1;
				ch[--end] = 0;
				while (start > lo && ch[start - 1])
					start--;
				j--;
				while (o->changed[j])
					j--;
			}
			corresponding = j > o->lo && o->changed[j - 1] ? end : hi + 1;
			while (end < hi && id[start] == id[end]) {
				ch[start++] = 0;
				ch[end++] = 1;
				while (end < hi && ch[end])
					end++;
				j++;
				while (j < o->hi && o->changed[j]) {
					j++;
					corresponding = end;
				}
			}
		} while (runlength != end - start);
		while (corresponding < end) {
			ch[--start] = 1;
			ch[--end] = 0;
			j--;
			while (o->changed[j])
				j--;
		}
		i = end;
	}
}

/*
 * GNU diff keeps lines that cannot match anything out of the comparison,
 * and lines that match very often too when they sit inside such a run.
 * This changes which of several equally short edit scripts is found, so
 * it is done the same way here: d[] gets 0 (keep), 1 (discard) or
 * 2 (provisional) per line of the compared region.
 */
static void mark_discardable(const struct file *f, const struct file *o, int ids, char *d)
{
	size_t *count = xcalloc((size_t)ids, sizeof(size_t));
	size_t many = 5, tem = (f->hi - f->lo) / 64;

	while ((tem >>= 2) > 0)
		many *= 2;
	for (size_t i = o->lo; i < o->hi; i++)
		count[o->id[i]]++;
	for (size_t i = f->lo; i < f->hi; i++) {
		size_t c = count[f->id[i]];

		d[i - f->lo] = c == 0 ? 1 : c > many ? 2 : 0;
	}
	free(count);
}

/* Drops provisional discards near the ends of the run starting at i. */
static void trim_run_ends(char *d, size_t i, size_t length)
{
	size_t consec = 0, last = i + length - 1;

	for (size_t k = 0; k < length; k++) {
		if (k >= 8 && d[i + k] == 1)
			break;
		if (d[i + k] == 2)
			d[i + k] = 0, consec = 0;
		else
			consec = d[i + k] == 0 ? 0 : consec + 1;
		if (consec == 3)
			break;
	}
	consec = 0;
	for (size_t k = 0; k < length; k++) {
		if (k >= 8 && d[last - k] == 1)
			break;
		if (d[last - k] == 2)
			d[last - k] = 0, consec = 0;
		else
			consec = d[last - k] == 0 ? 0 : consec + 1;
		if (consec == 3)
			break;
	}
}

/* Settles the provisional discards of the run of discardable lines that
 * starts at i; returns where the caller's scan continues. */
static size_t settle_run(char *d, size_t i, size_t end)
{
	size_t j, length, provisional = 0, minimum = 1, tem, consec = 0;

	for (j = i; j < end && d[j] != 0; j++)
		provisional += d[j] == 2;
	while (j > i && d[j - 1] == 2)
		d[--j] = 0, provisional--;
	length = j - i;
	if (provisional * 4 > length) {
		for (size_t k = i; k < j; k++)
			if (d[k] == 2)
				d[k] = 0;
		return i;
	}
	tem = length >> 2;
	while ((tem >>= 2) > 0)
		minimum <<= 1;
	minimum++;
	/* Long stretches of provisional lines are kept after all. */
	for (size_t k = 0; k < length; k++) {
		if (d[i + k] != 2) {
			consec = 0;
		} else if (++consec == minimum) {
			for (size_t t = k + 1 - consec; t <= k; t++)
				d[i + t] = 0;
		} else if (consec > minimum) {
			d[i + k] = 0;
		}
	}
	trim_run_ends(d, i, length);
	return i + length - 1;
}

static void settle_discards(char *d, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (d[i] == 2)
			d[i] = 0;
		else if (d[i] != 0)
			i = settle_run(d, i, len);
	}
}

/* Fills f->kept/real with the lines Myers compares; discarded lines are
 * changes right away. */
static void apply_discards(struct file *f, const char *d)
{
	size_t len = f->hi - f->lo;

	f->kept = xmalloc((len + 1) * sizeof(int));
	f->real = xmalloc((len + 1) * sizeof(size_t));
	f->nkept = 0;
	for (size_t i = 0; i < len; i++) {
		if (d[i] == 0) {
			f->kept[f->nkept] = f->id[f->lo + i];
			f->real[f->nkept++] = f->lo + i;
		} else {
			f->changed[f->lo + i] = 1;
		}
	}
}

static void discard_lines(struct file *a, struct file *b, int ids)
{
	struct file *files[2] = {a, b};
	char *d[2];

	for (int k = 0; k < 2; k++) {
		d[k] = xmalloc(files[k]->hi - files[k]->lo + 1);
		mark_discardable(files[k], files[1 - k], ids, d[k]);
	}
	for (int k = 0; k < 2; k++) {
		settle_discards(d[k], files[k]->hi - files[k]->lo);
		apply_discards(files[k], d[k]);
		free(d[k]);
	}
}

/* The compared region: all but `ctx` lines of the common prefix/suffix. */
static void set_region(struct file *a, struct file *b, size_t ctx)
{
	size_t p = 0, s = 0, skip;

	while (p < a->n && p < b->n && a->id[p] == b->id[p])
		p++;
	while (s < a->n - p && s < b->n - p && a->id[a->n - 1 - s] == b->id[b->n - 1 - s])
		s++;
	skip = p > ctx ? p - ctx : 0;
	a->lo = b->lo = skip;
	skip = s > ctx ? s - ctx : 0;
	a->hi = a->n - skip;
	b->hi = b->n - skip;
}

/* A group of changed lines: a[a0,a1) replaced by b[b0,b1). */
struct change {
	size_t a0, a1, b0, b1;
};

static struct change *collect_changes(const struct file *a, const struct file *b,
				      size_t *count)
{
	struct change *c = NULL;
	size_t n = 0, cap = 0, i = 0, j = 0;

	while (i < a->n || j < b->n) {
		struct change g;

		if (!a->changed[i] && !b->changed[j]) {
			i++;
			j++;
			continue;
		}
		g.a0 = i;
		g.b0 = j;
		while (a->changed[i])
			i++;
		while (b->changed[j])
			j++;
		g.a1 = i;
		g.b1 = j;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			c = xrealloc(c, cap * sizeof(*c));
		}
		c[n++] = g;
	}
	*count = n;
	return c;
}

static void add_range(struct strbuf *sb, size_t lo, size_t hi)
{
	/* GNU: an empty range names the line before it; a single line
	 * has no count. */
	if (hi - lo == 1)
		sb_addf(sb, "%zu", lo + 1);
	else if (hi == lo)
		sb_addf(sb, "%zu,0", lo);
	else
		sb_addf(sb, "%zu,%zu", lo + 1, hi - lo);
}

static void add_line(struct strbuf *sb, char prefix, const struct line *l)
{
	sb_addc(sb, prefix);
	sb_add(sb, l->s, l->len);
	if (l->len == 0 || l->s[l->len - 1] != '\n')
		sb_adds(sb, "\n\\ No newline at end of file\n");
}

static size_t min_size(size_t x, size_t y)
{
	return x < y ? x : y;
}

/* Writes changes c[first..last] as one hunk. */
static void add_hunk(struct strbuf *sb, const struct file *a, const struct file *b,
		     const struct change *c, size_t first, size_t last, size_t ctx)
{
	size_t a_lo = c[first].a0 > ctx ? c[first].a0 - ctx : 0;
	size_t b_lo = c[first].b0 - (c[first].a0 - a_lo);
	size_t a_hi = min_size(a->n, c[last].a1 + ctx);
	size_t b_hi = c[last].b1 + (a_hi - c[last].a1);
	size_t i = a_lo;

	sb_adds(sb, "@@ -");
	add_range(sb, a_lo, a_hi);
	sb_adds(sb, " +");
	add_range(sb, b_lo, b_hi);
	sb_adds(sb, " @@\n");
	for (size_t k = first; k <= last; k++) {
		for (; i < c[k].a0; i++)
			add_line(sb, ' ', &a->lines[i]);
		for (; i < c[k].a1; i++)
			add_line(sb, '-', &a->lines[i]);
		for (size_t j = c[k].b0; j < c[k].b1; j++)
			add_line(sb, '+', &b->lines[j]);
	}
	for (; i < a_hi; i++)
		add_line(sb, ' ', &a->lines[i]);
}

static void run_myers(struct file *a, struct file *b)
{
	struct myers m;
	size_t diags = a->nkept + b->nkept + 3;
	long *fd = xmalloc(diags * sizeof(long)), *bd = xmalloc(diags * sizeof(long));

	m.a = a;
	m.b = b;
	m.fd = fd + b->nkept + 1;
	m.bd = bd + b->nkept + 1;
	compare(&m, a, b, 0, (long)a->nkept, 0, (long)b->nkept);
	free(fd);
	free(bd);
}

static void file_free(struct file *f)
{
	free(f->lines);
	free(f->id);
	free(f->changed);
	free(f->kept);
	free(f->real);
}

char *diff_unified(const char *a_label, const char *a, size_t a_len,
		   const char *b_label, const char *b, size_t b_len, int context)
{
	struct file fa, fb;
	struct strbuf sb = STRBUF_INIT;
	struct change *c;
	size_t count, ctx = context > 0 ? (size_t)context : 0;
	int ids;

	split_lines(a ? a : "", a ? a_len : 0, &fa);
	split_lines(b ? b : "", b ? b_len : 0, &fb);
	ids = assign_ids(&fa, &fb);
	set_region(&fa, &fb, ctx);
	discard_lines(&fa, &fb, ids);
	run_myers(&fa, &fb);
	shift_boundaries(&fa, &fb);
	shift_boundaries(&fb, &fa);
	c = collect_changes(&fa, &fb, &count);
	if (count > 0)
		sb_addf(&sb, "--- %s\n+++ %s\n", a_label, b_label);
	for (size_t first = 0; first < count;) {
		size_t last = first;

		while (last + 1 < count && c[last + 1].a0 - c[last].a1 <= 2 * ctx)
			last++;
		add_hunk(&sb, &fa, &fb, c, first, last, ctx);
		first = last + 1;
	}
	free(c);
	file_free(&fa);
	file_free(&fb);
	return sb_detach(&sb);
}
