/* hist: an HDR-style log-linear histogram of non-negative doubles.
 *
 * Values are stored as integer multiples of `lowest` in buckets whose width
 * doubles every power of two, with 10^digits distinguishable values per
 * decade, so relative error is bounded by 10^-digits at every magnitude.
 * count/min/max/sum/sum-of-squares are kept exactly, so mean and stddev do not
 * suffer bucket error. Pure C, no I/O. */
#ifndef MLXBENCH_HIST_H
#define MLXBENCH_HIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct mb_hist mb_hist;

/* Creates a histogram for values in [lowest, highest] with `digits` (1..5)
 * significant decimal digits. Values below lowest record in the lowest bucket,
 * values above highest are clamped to highest (and counted as saturated).
 * Returns 0 or MB_EINVAL / MB_ENOMEM. */
int mb_hist_new(mb_hist **out, double lowest, double highest, int digits);
void mb_hist_free(mb_hist *h);
void mb_hist_reset(mb_hist *h);

/* Records `count` occurrences of v. v must be finite and >= 0 (MB_EINVAL). */
int mb_hist_record(mb_hist *h, double v, uint64_t count);

uint64_t mb_hist_count(const mb_hist *h);
uint64_t mb_hist_saturated(const mb_hist *h);  /* values clamped to highest */
double mb_hist_min(const mb_hist *h);          /* exact; 0 when empty */
double mb_hist_max(const mb_hist *h);          /* exact; 0 when empty */
double mb_hist_mean(const mb_hist *h);         /* exact; 0 when empty */
double mb_hist_stddev(const mb_hist *h);       /* population stddev */
/* Value at percentile p in [0,100]: the highest value equivalent to the
 * bucket holding the ceil(p/100*count)-th value, clamped to [min,max]. */
double mb_hist_percentile(const mb_hist *h, double p);

void mb_hist_settings(const mb_hist *h, double *lowest, double *highest, int *digits);
/* Bytes held by h (struct + counts array), for memory budgets and tests. */
size_t mb_hist_memsize(const mb_hist *h);

/* Adds src into dst. Same settings: exact, bucket by bucket. Different
 * settings: each src bucket is re-recorded at its median-equivalent value;
 * count/min/max/sum/sum-of-squares stay exact either way. */
int mb_hist_merge(mb_hist *dst, const mb_hist *src);

/* Compact printable encoding ("mbh1:..."), exact round trip through decode.
 * *out is malloc'd and NUL-terminated; caller frees. */
int mb_hist_encode(const mb_hist *h, char **out, size_t *len);
/* Parses an encoding; any malformed input returns MB_EPARSE, never crashes. */
int mb_hist_decode(const char *s, size_t len, mb_hist **out);

/* A sparse histogram: mb_hist's buckets and exact moments with only the
 * non-empty buckets stored (a hash of bucket -> count), for the gaps of one
 * long stream, which fall in few buckets: a flood of a million events
 * costs a few KB instead of 8 bytes each, and merges into an mb_hist
 * exactly as mb_hist_merge would (bit-identical to recording each value). */
typedef struct mb_hist_sparse mb_hist_sparse;
int mb_hist_sparse_new(mb_hist_sparse **out, double lowest, double highest, int digits);
void mb_hist_sparse_free(mb_hist_sparse *s);
/* Records v once. MB_EINVAL for a negative or non-finite v, MB_ENOMEM. */
int mb_hist_sparse_record(mb_hist_sparse *s, double v);
uint64_t mb_hist_sparse_count(const mb_hist_sparse *s);
/* Bytes held (struct + table), for memory budgets and tests. */
size_t mb_hist_sparse_memsize(const mb_hist_sparse *s);
/* Adds src into dst, like mb_hist_merge. */
int mb_hist_merge_sparse(mb_hist *dst, const mb_hist_sparse *src);

/* HdrHistogram's V2 binary encoding (uncompressed; its interval logs hold
 * it deflated and base64'd): values as integers in units of `lowest`,
 * lowestDiscernibleValue 1, the same buckets, so the copy is exact.
 * *out is malloc'd; caller frees. 0, MB_ENOMEM or MB_EINVAL. */
int mb_hist_hdr_encode(const mb_hist *h, unsigned char **out, size_t *len);

/* Iteration over non-empty buckets, for CDF plots and tests:
 * *value is the bucket's highest equivalent value. Returns 0 at the end. */
typedef struct { const mb_hist *h; size_t idx; } mb_hist_iter;
void mb_hist_iter_init(mb_hist_iter *it, const mb_hist *h);
int mb_hist_iter_next(mb_hist_iter *it, double *value, uint64_t *count);

#endif
