/* web/find.c — lookup in the generated asset table. */
#include <string.h>

#include "web/assets.h"
#include "base/banned.h"

const struct bk_web_asset *bk_web_asset_find(const char *name)
{
    for (size_t i = 0; i < bk_web_asset_count; i++)
        if (strcmp(bk_web_assets[i].name, name) == 0)
            return &bk_web_assets[i];
    return NULL;
}
