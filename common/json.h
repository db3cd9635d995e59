/* Just enough JSON output for `status --json`: strings escaped so the
 * result is valid JSON whatever bytes xenstore or the kernel handed us. */
#pragma once

#include <stdio.h>

/* Writes s as a JSON string literal. Quotes, backslashes, control
 * characters and every byte outside ASCII are escaped (\u00XX: a byte
 * outside ASCII stands for the code point of the same number), so the
 * output is plain ASCII. NULL is written as null. */
void json_write_string(FILE *f, const char *s);
