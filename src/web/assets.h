/* web/assets.h — the pages and their CSS/JS, compiled into the binary from
 * the files of src/web (assets.c is generated at build time). */
#ifndef BK_WEB_ASSETS_H
#define BK_WEB_ASSETS_H

#include <stddef.h>

struct bk_web_asset {
    const char *name;         /* file name: "index.html", "book.js" */
    const char *content_type; /* "text/html; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    const unsigned char *gz; /* the same gzipped (CSS, JS, text), or NULL */
    size_t gz_len;
};

extern const struct bk_web_asset bk_web_assets[];
extern const size_t bk_web_asset_count;

/* The asset with this file name, or NULL. */
const struct bk_web_asset *bk_web_asset_find(const char *name);

#endif
