/* Header matches for bpftables.bpf.c (included once, before res_step(); its hooks: hdr_prep()
 * in classify(), the R_SCTP / R_SPI / R_TCPOPT / R_CPU cases of res_step()). Semantics:
 * classifier/headers.ts (the kernel's xt_sctp, xt_esp, ipt_ah, xt_ipcomp, xt_tcpudp's
 * tcp_find_option, xt_tcpmss, xt_cpu), which the tests hold this against.
 *
 * - What a generation's rules need is meta.needs NEED_HDR: hdr_prep() reads, once per packet and
 *   only for the packet's own protocol, a summary into scratch.h (struct hdr_info), so the scan
 *   pays one case per residual op whatever the packet.
 * - SCTP (first fragments): the chunk walk of xt_sctp's match_packet() from the transport header
 *   + 12 while offset < skb->len, one bpf_loop step per chunk (a chunk takes >= 4 bytes: at most
 *   16,384 steps for 64 KiB). It records the chunk types seen and, for types below HDR_FLTYPES,
 *   each flags byte seen, up to the chunk where the kernel's walk would stop with a hotdrop
 *   (unreadable or zero length: sctp_bad). The kernel's early returns (ANY on a hit, ONLY on a
 *   miss) happen before that chunk whatever the chunk order, so the summary decides each of
 *   ANY / ALL / ONLY exactly (bpftables_sctp()); flag_info is encoded as the 256-bit set of flags
 *   bytes it accepts. A common header shorter than 12 bytes: sctp_bad with nothing seen.
 * - esp / ah / ipcomp (first fragments): the SPI (ipcomp: the 16-bit CPI) of an 8 / 12 / 4-byte
 *   header; shorter: hotdrop.
 * - TCP (any fragment: xt_tcpmss reads whatever follows the IP header; the tcp match's proto key
 *   excludes non-first fragments): the 20-byte header, doff >= 5 and the options readable, else
 *   hotdrop (tcp_ok 0); the option kinds the walk visits (kinds 0 / 1 one byte, others their
 *   length byte, 0 counting as 1) and the first MSS option with length 4 and 4 bytes left.
 * - Hotdrop (res_step): the packet is dropped at once and the rule not counted, as nft_compat
 *   does with par->hotdrop (iptables-nft); the walk state lives in the scratch slot.
 */

#define NEED_HDR (1u << 24)
#define NEED_TIME (1u << 25)
#define NEED_REALM (1u << 26)
#define NEED_STRING (1u << 27)
#define NEED_U32 (1u << 28)

/* realm_mt(): skb_dst(skb)->tclassid (the route's realm; 0 without a route, as in test_run). */
static __always_inline __u32 hdr_realm(struct sk_buff *skb)
{
	unsigned long rd = skb->_skb_refdst & ~1UL; /* SKB_DST_NOREF */
	if (!rd)
		return 0;
	struct dst_entry *d = bpf_rdonly_cast((void *)rd, bpf_core_type_id_kernel(struct dst_entry));
	return d->tclassid;
}
#define SCTP_ANY 1
#define SCTP_ALL 2
#define SCTP_ONLY 4
#define SCTP_MAX_CHUNKS 16384

/* bpf_loop context of both walks (it must be on the stack). */
struct sctp_walk {
	struct bpf_dynptr dp; /* the callback passes &w->dp: a stack slot of hdr_prep's frame */
	struct hdr_info *h;
};

static long sctp_step(__u32 i, struct sctp_walk *w)
{
	struct hdr_info *h = w->h;
	__u8 ch[4];
	if (h->off + 4 > h->end || bpf_dynptr_read(ch, sizeof(ch), &w->dp, h->l3 + h->off, 0)) {
		h->sctp_bad = 1;
		return 1;
	}
	__u32 len = (__u32)ch[2] << 8 | ch[3];
	if (!len) {
		h->sctp_bad = 1;
		return 1;
	}
	__u32 t = ch[0], fl = ch[1];
	h->sctp_seen[(t >> 6) & 3] |= 1ULL << (t & 63);
	if (t < HDR_FLTYPES)
		h->sctp_fl[t][(fl >> 6) & 3] |= 1ULL << (fl & 63);
	h->off += (len + 3) & ~3u;
	return h->off < h->end ? 0 : 1;
}

static long tcpopt_step(__u32 i, struct sctp_walk *w)
{
	struct hdr_info *h = w->h;
	__u32 k = h->oi;
	if (k >= h->optlen || k >= 40)
		return 1;
	__u32 kind = h->obuf[k];
	h->topt[(kind >> 6) & 3] |= 1ULL << (kind & 63);
	if (!h->mss && kind == 2 && h->optlen - k >= 4 && h->obuf[(k + 1) & 63] == 4)
		h->mss = 0x10000 | (__u32)h->obuf[(k + 2) & 63] << 8 | h->obuf[(k + 3) & 63];
	/* op[i + 1] past the options only sets the step, and any step ends the walk then. */
	__u32 step = 1;
	if (kind >= 2 && k + 1 < h->optlen && h->obuf[(k + 1) & 63])
		step = h->obuf[(k + 1) & 63];
	h->oi = k + step;
	return 0;
}

/* DCCP options (≤ 1,020 bytes): one step per option, its kind and length byte read from the packet. */
static long dccpopt_step(__u32 i, struct sctp_walk *w)
{
	struct hdr_info *h = w->h;
	__u32 k = h->oi;
	if (k >= h->optlen)
		return 1;
	__u8 b[2] = {};
	__u32 n = k + 1 < h->optlen ? 2 : 1;
	if (bpf_dynptr_read(b, n, &w->dp, h->off + k, 0)) {
		h->dopt_ok = 0;
		return 1;
	}
	h->topt[(b[0] >> 6) & 3] |= 1ULL << (b[0] & 63);
	h->oi = k + (b[0] < 2 || n < 2 || !b[1] ? 1 : b[1]);
	return 0;
}

/* __dccp_hdr_len() of the header's byte 8 (X bit 0, type bits 1..4). */
static __always_inline __u32 dccp_hdr_len(__u32 b8)
{
	__u32 t = (b8 >> 1) & 15;
	__u32 own = t == 2 ? 0 : (t >= 3 && t <= 6) || t == 8 || t == 9 ? 8 : t == 0 ? 4 : 12;
	return 12 + ((b8 & 1) ? 4 : 0) + own;
}

static __noinline void hdr_prep(void *skb, struct scratch *x)
{
	struct hdr_info *h = &x->h;
	struct pkt *p = &x->p;
	h->sctp_bad = 1;
	h->spi_ok = 0;
	h->tcp_ok = 0;
	h->mss = 0;
	h->dccp_ok = 0;
	h->dopt_ok = 0;
	struct sctp_walk w = { .h = h };
	struct bpf_dynptr *dpp = &w.dp;
	if (bpf_dynptr_from_skb((struct __sk_buff *)skb, 0, dpp))
		return;
	__u32 l3 = x->l3off & 0xff;
	__u8 vihl;
	if (bpf_dynptr_read(&vihl, 1, dpp, l3, 0))
		return;
	__u32 thoff = (vihl & 15) * 4;
	/* skb->len counts from the IP header at the netfilter hooks; a tc program's skb may carry
	 * Ethernet padding past the IP packet, which the hooks never see. */
	__u32 end = p->skblen;
	if (l3 && p->len < end)
		end = p->len;
	h->l3 = l3;
	__u32 proto = p->proto;
	if (proto == 132) {
		__builtin_memset(h->sctp_seen, 0, sizeof(h->sctp_seen));
		__builtin_memset(h->sctp_fl, 0, sizeof(h->sctp_fl));
		if (p->frag || thoff + 12 > end)
			return;
		h->sctp_bad = 0;
		h->off = thoff + 12;
		h->end = end;
		bpf_loop(SCTP_MAX_CHUNKS, sctp_step, &w, 0);
		return;
	}
	if (proto == 50 || proto == 51 || proto == 108) {
		__u8 b[12];
		__u32 need = proto == 50 ? 8 : proto == 51 ? 12 : 4;
		if (p->frag || thoff + need > end || bpf_dynptr_read(b, sizeof(b) < need ? sizeof(b) : need, dpp, l3 + thoff, 0))
			return;
		if (proto == 50)
			h->spi = (__u32)b[0] << 24 | (__u32)b[1] << 16 | (__u32)b[2] << 8 | b[3];
		else if (proto == 51)
			h->spi = (__u32)b[4] << 24 | (__u32)b[5] << 16 | (__u32)b[6] << 8 | b[7];
		else
			h->spi = (__u32)b[2] << 8 | b[3];
		h->spi_ok = 1;
		return;
	}
	if (proto == 33) {
		__builtin_memset(h->topt, 0, sizeof(h->topt));
		__u8 d[12];
		if (p->frag || thoff + 12 > end || bpf_dynptr_read(d, sizeof(d), dpp, l3 + thoff, 0))
			return;
		h->dccp_ok = 1;
		h->dtype = (d[8] >> 1) & 15;
		__u32 hl = dccp_hdr_len(d[8]), doff4 = (__u32)d[4] * 4;
		if (doff4 < hl)
			return;
		__u32 optlen = doff4 - hl;
		if (optlen && thoff + hl + optlen > end)
			return;
		h->dopt_ok = 1;
		if (optlen) {
			h->optlen = optlen;
			h->oi = 0;
			h->off = l3 + thoff + hl;
			bpf_loop(1024, dccpopt_step, &w, 0);
		}
		return;
	}
	if (proto == 6) {
		__builtin_memset(h->topt, 0, sizeof(h->topt));
		__u8 t[20];
		if (thoff + 20 > end || bpf_dynptr_read(t, sizeof(t), dpp, l3 + thoff, 0))
			return;
		__u32 doff = t[12] >> 4;
		if (doff < 5)
			return;
		__u32 optlen = doff * 4 - 20;
		h->optlen = optlen;
		if (optlen) {
			if (thoff + 20 + optlen > end)
				return;
			asm volatile("" : "+r"(optlen)); /* keep the bound check below for the verifier */
			if (optlen > 40 || bpf_dynptr_read(h->obuf, optlen, dpp, l3 + thoff + 20, 0))
				return;
			h->oi = 0;
			bpf_loop(40, tcpopt_step, &w, 0);
		}
		h->tcp_ok = 1;
	}
}

/* R_SCTP: the chunk-types result before `invert` (0 / 1), or 2 for a hotdrop. A global function:
 * verified once, with its own small frame. idx is the op's entry; the chunk map and the flag
 * entries' accepted-flags sets follow it. */
/* R_SCTP: the chunk-types result before `invert` (0 / 1), or 2 for a hotdrop. A global function:
 * verified once. idx is the op's entry; the chunk map and the flag entries' accepted-flags sets
 * follow it. Its frame must stay small (the tc programs' combined stack: tc_in → classify_tc →
 * step → res_step → here), so the rule's words are copied into the scratch slot (h->em) and
 * the accumulators live there too rather than in spilled registers. */
__noinline int bpftables_sctp(struct scratch *x, __u32 idx)
{
	if (!x)
		return 0;
	struct hdr_info *h = &x->h;
	/* Map keys in the scratch slot too: no stack. */
	h->key = x->gen;
	void *res = bpf_map_lookup_elem(&gen_res, &h->key);
	if (!res)
		return 0;
	h->key = idx;
	struct res_ent *e = bpf_map_lookup_elem(res, &h->key);
	if (!e)
		return 0;
	h->ftypes = e->x;
	h->nf = e->mask;
	h->mtype = e->field;
	/* em[0..3]: the chunk map; em[4 + 4k ..]: flag entry k's accepted flags bytes. */
#pragma clang loop unroll(disable)
	for (__u32 j = 0; j < 10; j++) {
		h->key = idx + 1 + j;
		struct res_ent *d = bpf_map_lookup_elem(res, &h->key);
		if (!d)
			break;
		h->em[(2 * j) & 31] = d->x;
		h->em[(2 * j + 1) & 31] = d->y;
	}
	/* Flag entries whose type is in the map (the encoder keeps the first per type, as
	 * match_flags() uses it): whether a chunk of that type with accepted flags (good) / with
	 * other flags (wrong) was seen; `flagged`: their types (all below 64). */
	h->flagged = 0;
	h->good = 0;
	h->wrong = 0;
	h->allflags = 1;
#pragma clang loop unroll(disable)
	for (__u32 k = 0; k < 4; k++) {
		if (k >= h->nf)
			break;
		__u32 t = (h->ftypes >> (8 * k)) & 0xff;
		if (t >= HDR_FLTYPES || !((h->em[0] >> t) & 1))
			continue;
		h->flagged |= 1ULL << t;
		__u64 any = 0, other = 0;
#pragma clang loop unroll(disable)
		for (__u32 w = 0; w < 4; w++) {
			__u64 f = h->sctp_fl[t][w];
			__u64 acc = h->em[(4 + 4 * k + w) & 31];
			any |= f & acc;
			other |= f & ~acc;
		}
		if (any)
			h->good = 1;
		else
			h->allflags = 0;
		if (other)
			h->wrong = 1;
	}
	__u64 plain = 0, missing = 0, extra = 0;
#pragma clang loop unroll(disable)
	for (__u32 w = 0; w < 4; w++) {
		__u64 m = h->em[w & 3], seen = h->sctp_seen[w & 3];
		extra |= seen & ~m;
		if (w == 0)
			m &= ~h->flagged;
		plain |= m & seen;
		missing |= m & ~seen;
	}
	int bad = h->sctp_bad;
	if (h->mtype == SCTP_ANY)
		return plain || h->good ? 1 : bad ? 2 : 0;
	if (h->mtype == SCTP_ALL)
		return bad ? 2 : !missing && h->allflags;
	/* SCTP_ONLY */
	if (extra || h->wrong)
		return 0;
	return bad ? 2 : 1;
}

/* R_TIME: time_mt() of xt_time at the real time, taken as bpf_ktime_get_tai_ns() minus the TAI
 * offset the loader read at the commit (TAI follows clock steps with the real-time clock; only a
 * change of the TAI offset itself, e.g. a leap-second table loaded by an NTP daemon after the
 * commit, shifts it until the next commit). --kerneltz subtracts sys_tz (also read at the commit).
 * A global function: verified once, scalars only (the tc stack budget). */
__noinline int bpftables_time(struct scratch *x, struct res_ent *e)
{
	if (!x || !e)
		return 0;
	__s64 stamp = (__s64)(bpf_ktime_get_tai_ns() / 1000000000ULL) - x->h.tai_off;
	__u64 y = e->y;
	if ((y >> 34) & 1)
		stamp -= 60 * (__s64)x->h.tz_west;
	if (stamp < (__s64)(__u32)e->x || stamp > (__s64)(e->x >> 32))
		return 0;
	__u64 st = (__u64)stamp;
	__u32 ptime = st % 86400;
	__u32 ds = y & 0x1ffff, dd = (y >> 17) & 0x1ffff;
	if (ds < dd) {
		if (ptime < ds || ptime > dd)
			return 0;
	} else {
		if (ptime < ds && ptime > dd)
			return 0;
		if (((y >> 35) & 1) && ptime <= dd)
			st -= 86400;
	}
	__u32 dse = st / 86400;
	__u32 wd = (4 + dse - 1) % 7 + 1;
	if (!((e->field >> wd) & 1))
		return 0;
	if (e->mask == 0xfffffffe)
		return 1;
	/* localtime_3(): days_since_epoch[] ends at 2039 (day 25202): later days count as 2039's. */
	__u32 md;
	if (dse >= 25202) {
		__u32 w = dse - 25202;
		__u32 b = w >= 334 ? 334 : w >= 304 ? 304 : w >= 273 ? 273 : w >= 243 ? 243 : w >= 212 ? 212 : w >= 181 ? 181 :
			  w >= 151 ? 151 : w >= 120 ? 120 : w >= 90 ? 90 : w >= 59 ? 59 : w >= 31 ? 31 : 0;
		md = w - b + 1;
	} else {
		/* civil_from_days (proleptic Gregorian), exact for 1970..2039 */
		__u32 z = dse + 719468;
		__u32 era = z / 146097;
		__u32 doe = z - era * 146097;
		__u32 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
		__u32 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
		__u32 mp = (5 * doy + 2) / 153;
		md = doy - (153 * mp + 2) / 5 + 1;
	}
	return (e->mask >> (md & 31)) & 1;
}

/* ---- string (xt_string) ------------------------------------------------------------------
 * string_mt() is skb_find_text() over the packet's bytes [from, min(to, skb->len)) counted from
 * the IP header. bm and kmp find the same occurrences in a linear skb (ts_bm misses a match that
 * straddles two fragments of a non-linear one: not modelled). string_prep() runs, once per
 * packet and before the scan, a KMP search per distinct check of the generation (meta.nstr
 * slots, at most STRING_SLOTS, stored in the res map at meta.str_off: a header, the pattern and
 * its failure function) and sets bit s of strhit when slot s found its pattern; R_STRING then
 * reads the bit. One bpf_loop step consumes a text byte or follows one failure link, so a slot
 * takes at most 2 * (text length) + 1 steps (≤ 131,071 for 64 KiB): every packet pays for every
 * string check of the generation, whether or not its rules are reached. Text bytes come through
 * a 64-byte window (sbuf) refilled with one bpf_dynptr_read. With --icase both sides go through
 * the kernel's toupper() (Latin-1 included; the encoder upper-cases the pattern). */

static __always_inline __u32 ktoupper(__u32 c)
{
	return (c >= 97 && c <= 122) || (c >= 223 && c <= 246) || c >= 248 ? c - 32 : c;
}

static long kmp_step(__u32 i, struct sctp_walk *w)
{
	struct hdr_info *h = w->h;
	__u32 pos = h->spos;
	if (pos >= h->send)
		return 1;
	if (pos < h->sbufpos || pos >= h->sbufpos + h->sbuflen) {
		__u32 n = h->send - pos;
		if (n > 64)
			n = 64;
		asm volatile("" : "+r"(n));
		if (n == 0 || n > 64 || bpf_dynptr_read(h->sbuf, n, &w->dp, h->sl3 + pos, 0))
			return 1;
		h->sbufpos = pos;
		h->sbuflen = n;
	}
	__u32 c = h->sbuf[(pos - h->sbufpos) & 63];
	if (h->sicase)
		c = ktoupper(c);
	__u32 q = h->sq;
	if (h->spat[q & 127] == c) {
		q++;
		h->spos = pos + 1;
		if (q >= h->splen) {
			h->strhit |= 1u << (h->slot & 31);
			return 1;
		}
	} else if (q > 0) {
		q = h->sfail[(q - 1) & 127];
	} else {
		h->spos = pos + 1;
	}
	h->sq = q;
	return 0;
}

static long str_slot(__u32 s, struct sctp_walk *w)
{
	struct hdr_info *h = w->h;
	if (s >= h->nf)
		return 1;
	void *res = bpf_map_lookup_elem(&gen_res, &h->key);
	if (!res)
		return 1;
	__u32 base = h->ftypes + s * 17;
	struct res_ent *hd = bpf_map_lookup_elem(res, &base);
	if (!hd)
		return 1;
	h->slot = s;
	h->sicase = hd->field;
	h->splen = hd->mask;
	h->spos = (__u32)hd->x;
	h->send = (__u32)hd->y < h->end ? (__u32)hd->y : h->end;
	h->sq = 0;
	h->sbuflen = 0;
	h->sbufpos = 0;
	if (!h->splen || h->splen > 128)
		return 0;
	/* The pattern (rows 1..8) and failure function (rows 9..16), 16 bytes a row. */
	for (__u32 r = 0; r < 16; r++) {
		__u32 i = base + 1 + r;
		struct res_ent *d = bpf_map_lookup_elem(res, &i);
		if (!d)
			return 1;
		__u8 *dst = r < 8 ? &h->spat[(r * 16) & 127] : &h->sfail[((r - 8) * 16) & 127];
		__builtin_memcpy(dst, &d->x, 16);
	}
	bpf_loop(1 << 18, kmp_step, w, 0);
	return 0;
}

static __noinline void string_prep(void *skb, struct scratch *x, struct meta *m)
{
	struct hdr_info *h = &x->h;
	struct pkt *p = &x->p;
	h->strhit = 0;
	struct sctp_walk w = { .h = h };
	if (bpf_dynptr_from_skb((struct __sk_buff *)skb, 0, &w.dp))
		return;
	__u32 l3 = x->l3off & 0xff;
	__u32 end = p->skblen;
	if (l3 && p->len < end)
		end = p->len;
	h->sl3 = l3;
	h->end = end;
	h->key = x->gen;
	h->ftypes = m->str_off; /* reused: the slots' first entry */
	h->nf = m->nstr;
	bpf_loop(STRING_SLOTS, str_slot, &w, 0);
}

/* ---- u32 (xt_u32) -------------------------------------------------------------------------
 * u32_match_it() per distinct check of the generation (≤ U32_SLOTS), once per packet before the
 * scan, as one bpf_loop over the slots' programs (res entries from meta.u32_off, u32_len of
 * them; field: 0 slot header (x slot, mask its length), 1 load the test's first word at x,
 * 2 '&', 3 '<<', 4 '>>' (counts mod 32, as the kernel's x86 code), 5 '@' x, 6 range [x, y],
 * 7 end of test, 8 the slot's tests all held). Bounds as the kernel's: a word must lie within
 * skb->len from the IP header, '@' offsets must not wrap 32 bits. R_U32 reads the slot's bit. */

static __always_inline int u32_word(struct sctp_walk *w, __u64 off)
{
	struct hdr_info *h = w->h;
	if (off + 4 > h->end)
		return -1;
	if (bpf_dynptr_read(&h->utmp, 4, &w->dp, h->sl3 + (__u32)off, 0))
		return -1;
	h->uval = bpf_ntohl(h->utmp);
	return 0;
}

static long u32_step(__u32 i, struct sctp_walk *w)
{
	struct hdr_info *h = w->h;
	__u32 idx = h->uidx;
	if (idx >= h->uend)
		return 1;
	void *res = bpf_map_lookup_elem(&gen_res, &h->key);
	if (!res)
		return 1;
	struct res_ent *e = bpf_map_lookup_elem(res, &idx);
	if (!e)
		return 1;
	h->uidx = idx + 1;
	__u64 n = (__u32)e->x;
	int fail = 0;
	switch (e->field) {
	case 0:
		h->uslot = (__u32)e->x;
		h->uslotend = idx + 1 + e->mask;
		break;
	case 1:
		h->uat = 0;
		h->uvm = 0;
		fail = u32_word(w, n);
		break;
	case 2:
		h->uval &= (__u32)n;
		break;
	case 3:
		h->uval <<= (n & 31);
		break;
	case 4:
		h->uval >>= (n & 31);
		break;
	case 5: {
		__u64 at = h->uat + h->uval;
		if (at > 0xffffffffULL || at + 4 > 0xffffffffULL) {
			fail = 1;
			break;
		}
		h->uat = at;
		fail = u32_word(w, at + n);
		break;
	}
	case 6:
		if (h->uval >= (__u32)e->x && h->uval <= (__u32)e->y)
			h->uvm = 1;
		break;
	case 7:
		fail = !h->uvm;
		break;
	case 8:
		h->u32hit |= 1u << (h->uslot & 31);
		break;
	}
	if (fail)
		h->uidx = h->uslotend;
	return 0;
}

static __noinline void u32_prep(void *skb, struct scratch *x, struct meta *m)
{
	struct hdr_info *h = &x->h;
	struct pkt *p = &x->p;
	h->u32hit = 0;
	struct sctp_walk w = { .h = h };
	if (bpf_dynptr_from_skb((struct __sk_buff *)skb, 0, &w.dp))
		return;
	__u32 l3 = x->l3off & 0xff;
	__u32 end = p->skblen;
	if (l3 && p->len < end)
		end = p->len;
	h->sl3 = l3;
	h->end = end;
	h->key = x->gen;
	h->uidx = m->u32_off;
	h->uend = m->u32_off + m->u32_len;
	h->uslotend = h->uend;
	bpf_loop(U32_SLOTS * 256, u32_step, &w, 0);
}
