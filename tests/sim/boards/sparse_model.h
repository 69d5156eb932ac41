/*
 * Android sparse images as a bootloader expands them when flashing
 * (protocol-imx-sdp-fastboot.md §4.4): RAW, FILL, DONT_CARE and CRC32
 * chunks, written relative to the start of the target region.
 */
#ifndef FLASHD_SIM_SPARSE_MODEL_H
#define FLASHD_SIM_SPARSE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_SPARSE_MAGIC 0xed26ff3au

/* True if img starts with a sparse file header. */
bool sim_sparse_is(const uint8_t *img, size_t len);

/*
 * Expand img into dst[0..dst_len).  DONT_CARE leaves dst untouched.  On
 * success returns the number of bytes written (RAW + FILL, for timing);
 * on a malformed image or one that runs past dst_len returns -EINVAL with a
 * short reason in *why (U-Boot-like wording, fits a fastboot FAIL).
 */
int64_t sim_sparse_expand(const uint8_t *img, size_t len, uint8_t *dst, size_t dst_len,
			  const char **why);

#endif
