/* Shared by the fuzz targets: an input cut into NUL-separated fields,
 * each its own malloc'd string (so ASan sees a read past any of them). A
 * field that is exactly "\x7f" stands for an absent key (NULL); fields
 * past the end of the input are absent too. */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ABSENT "\x7f"

/* Fills field[0..n-1]; returns the bytes after the n-th field's NUL (the
 * rest of the input), or NULL. fuzz_fields_free frees them. */
static inline const uint8_t *fuzz_split(const uint8_t *data, size_t size, char **field, unsigned n, size_t *ret_rest)
{
	size_t off = 0;

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *end;
		size_t len;

		field[i] = NULL;
		if (off >= size)
			continue;
		end = memchr(data + off, 0, size - off);
		len = end ? (size_t)(end - (data + off)) : size - off;
		if (!(len == 1 && data[off] == 0x7f)) {
			field[i] = malloc(len + 1);
			if (!field[i])
				abort();
			memcpy(field[i], data + off, len);
			field[i][len] = 0;
		}
		off += len + 1;
	}
	*ret_rest = off < size ? size - off : 0;
	return off < size ? data + off : NULL;
}

static inline void fuzz_fields_free(char **field, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(field[i]);
		field[i] = NULL;
	}
}
