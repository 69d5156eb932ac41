/*
 * SHA-256 (FIPS 180-4) of a memory block, as lower-case hex, for the
 * memories in summary.json.  flashsim uses GLib's; usbip-sim links no GLib,
 * and the rig takes no code from the product (make check-includes) so that
 * it cannot share a bug with it: hence nettle directly, not
 * jobs/recipe-sha256.c.
 */
#ifndef FLASHD_SIM_USBIP_SHA256_H
#define FLASHD_SIM_USBIP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 65 /* 64 digits and the NUL */

/* Hash len bytes of data into hex[SHA256_HEX_LEN]. */
void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN]);

#endif
