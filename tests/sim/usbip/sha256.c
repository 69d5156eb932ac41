/*
 * This file implements the summary.json digest (tests/sim/usbip/sha256.h) on
 * nettle's SHA-256 (FIPS 180-4): a library, not product code, so the rig
 * still shares no bug with flashd (the VM image carries libnettle8).
 */
#include "tests/sim/usbip/sha256.h"

#include <nettle/sha2.h>
#include <stdio.h>

void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN])
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];

	sha256_init(&c);
	sha256_update(&c, len, data);
	sha256_digest(&c, sizeof(d), d);
	for (unsigned i = 0; i < sizeof(d); i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}
