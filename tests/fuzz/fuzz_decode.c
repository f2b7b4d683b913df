/* tests/fuzz/fuzz_decode.c — the API's JSON decoders (schedule, event type,
 * host) on arbitrary bodies. */
#include <stdint.h>
#include <string.h>

#include "api/decode.h"
#include "api/json.h"
#include "core/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    struct bk_arena a;
    struct bk_schedule s;
    struct bk_event_type et;
    struct bk_host host;
    const char *host_slug;
    json_t *v = NULL;

    if (!init) {
        bk_tz_init();
        init = 1;
    }
    bk_arena_init(&a);
    if (bk_json_parse_object((const char *)data, size, &v, NULL) == 0) {
        (void)bk_decode_schedule(v, "", &a, &s, NULL);
        memset(&et, 0, sizeof(et));
        bk_slot_rules_defaults(&et.rules, 30);
        (void)bk_decode_event_type(v, true, &a, &et, &host_slug, NULL);
        memset(&host, 0, sizeof(host));
        (void)bk_decode_host(v, true, &a, &host, NULL);
        json_decref(v);
    }
    bk_arena_release(&a);
    return 0;
}
