/* flashd's version, stored with every unit row and printed by --version. */
#ifndef FLASHD_COMMON_VERSION_H
#define FLASHD_COMMON_VERSION_H

#define FLASHD_VERSION "0.1.0"

#endif
