/*
 * This file implements the DfuSe memory-layout string parser and sector
 * lookup (protocol-dfu.md §2.6; grammar from ST UM0424 §4.3.2 as rendered
 * there).  The engine uses it to erase exactly the sectors an image touches
 * and to refuse writes outside writable memory before touching the device.
 */
#include "protocols/dfuse_mem.h"

#include <errno.h>
#include <string.h>

static int dfuse_mem_bad(struct err *e, const char *s, const char *p, const char *what)
{
	return err_set(e, -EBADMSG, "layout offset %td: %s in \"%s\"", p - s, what, s);
}

/* Decimal (count, size) or hex (address) number; returns -1 when there are no digits. */
static int dfuse_mem_number(const char **pp, int base, uint64_t *ret)
{
	const char *p = *pp;
	uint64_t v = 0;
	int n = 0;

	for (;; p++, n++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		v = v * (uint64_t)base + (uint64_t)d;
		if (v > UINT32_MAX)
			return -2;
	}
	if (n == 0)
		return -1;
	*pp = p;
	*ret = v;
	return 0;
}

int dfuse_mem_parse(const char *s, struct dfuse_layout *ret, struct err *e)
{
	struct dfuse_layout l = { 0 };
	const char *p = s, *name;
	size_t nlen;

	if (!s || *p != '@')
		return err_set(e, -EBADMSG, "layout offset 0: expected '@' in \"%s\"", s ? s : "");
	name = ++p;
	while (*p && *p != '/')
		p++;
	nlen = (size_t)(p - name);
	while (nlen > 0 && name[nlen - 1] == ' ')
		nlen--;
	if (nlen >= sizeof(l.name))
		nlen = sizeof(l.name) - 1;
	memcpy(l.name, name, nlen);
	if (!*p)
		return dfuse_mem_bad(e, s, p, "no '/0xADDR/' group");

	while (*p == '/') {
		uint64_t addr;

		p++;
		if (p[0] != '0' || (p[1] != 'x' && p[1] != 'X'))
			return dfuse_mem_bad(e, s, p, "expected '0x' address");
		p += 2;
		if (dfuse_mem_number(&p, 16, &addr) < 0)
			return dfuse_mem_bad(e, s, p, "bad hex address");
		if (*p != '/')
			return dfuse_mem_bad(e, s, p, "expected '/' after address");
		p++;
		for (;;) {
			struct dfuse_segment *seg;
			uint64_t count, size, end;

			if (dfuse_mem_number(&p, 10, &count) < 0 || count == 0)
				return dfuse_mem_bad(e, s, p, "bad sector count");
			if (*p != '*')
				return dfuse_mem_bad(e, s, p, "expected '*'");
			p++;
			if (dfuse_mem_number(&p, 10, &size) < 0 || size == 0)
				return dfuse_mem_bad(e, s, p, "bad sector size");
			switch (*p) {
			case 'K':
				size *= 1024;
				p++;
				break;
			case 'M':
				size *= 1024 * 1024;
				p++;
				break;
			case 'B':
			case ' ':
				/* Bytes; ST writes a space ("01*016 g"), dfu-util accepts both. */
				p++;
				break;
			default:
				break;
			}
			if (*p < 'a' || *p > 'g')
				return dfuse_mem_bad(e, s, p, "expected type letter a-g");
			if (size > UINT32_MAX)
				return err_set(e, -ERANGE,
					       "layout offset %td: sector size overflows", p - s);
			end = addr + count * size;
			if (end > (uint64_t)UINT32_MAX + 1)
				return err_set(
					e, -ERANGE,
					"layout offset %td: segment 0x%08llx + %llu * %llu passes 4 GiB",
					p - s, (unsigned long long)addr, (unsigned long long)count,
					(unsigned long long)size);
			if (l.n_segments >= DFUSE_MEM_MAX_SEGMENTS)
				return err_set(e, -E2BIG, "layout: more than %d segments",
					       DFUSE_MEM_MAX_SEGMENTS);
			seg = &l.seg[l.n_segments++];
			*seg = (struct dfuse_segment){
				.start = (uint32_t)addr,
				.sector_size = (uint32_t)size,
				.n_sectors = (uint32_t)count,
				.perms = (uint8_t)((*p - 'a' + 1) & 0x7),
			};
			p++;
			addr = end;
			if (*p != ',')
				break;
			p++;
		}
	}
	/* Some ROMs pad the string; trailing blanks are harmless. */
	while (*p == ' ')
		p++;
	if (*p)
		return dfuse_mem_bad(e, s, p, "trailing characters");
	*ret = l;
	return 0;
}

const struct dfuse_segment *dfuse_mem_find(const struct dfuse_layout *l, uint32_t addr)
{
	for (unsigned int i = 0; i < l->n_segments; i++) {
		const struct dfuse_segment *s = &l->seg[i];

		if (addr >= s->start && addr < dfuse_segment_end(s))
			return s;
	}
	return NULL;
}

int dfuse_mem_sector(const struct dfuse_layout *l, uint32_t addr, uint32_t *ret_start,
		     uint32_t *ret_size)
{
	const struct dfuse_segment *s = dfuse_mem_find(l, addr);

	if (!s)
		return -ENOENT;
	/* Divide rather than mask: sizes need not be powers of two. */
	*ret_start = s->start + (addr - s->start) / s->sector_size * s->sector_size;
	*ret_size = s->sector_size;
	return 0;
}

int dfuse_mem_check(const struct dfuse_layout *l, uint32_t addr, uint64_t len, uint8_t perms,
		    struct err *e)
{
	uint64_t a = addr, end = (uint64_t)addr + len;

	while (a < end) {
		const struct dfuse_segment *s =
			a <= UINT32_MAX ? dfuse_mem_find(l, (uint32_t)a) : NULL;

		if (!s)
			return err_set(e, -ERANGE, "address 0x%08llx is outside \"%s\"",
				       (unsigned long long)a, l->name);
		if ((s->perms & perms) != perms)
			return err_set(e, -EACCES, "address 0x%08llx in \"%s\" is not %s%s%s",
				       (unsigned long long)a, l->name,
				       (perms & ~s->perms & DFUSE_MEM_READABLE) ? "readable " : "",
				       (perms & ~s->perms & DFUSE_MEM_ERASABLE) ? "erasable " : "",
				       (perms & ~s->perms & DFUSE_MEM_WRITABLE) ? "writable" : "");
		a = dfuse_segment_end(s);
	}
	return 0;
}
