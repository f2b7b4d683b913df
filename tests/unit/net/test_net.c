/* tests/unit/net/test_net.c — the SSRF guard: which addresses are public,
 * which URLs are refused before any network access. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/net.h"

static bool is_public(const char *text)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, text,
                       &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    else
        fail_msg("bad test address %s", text);
    return bk_net_addr_is_public((struct sockaddr *)&ss);
}

static void test_addresses(void **state)
{
    static const char *const private_[] = {
        "0.0.0.0",
        "10.0.0.1",
        "100.64.0.1",
        "127.0.0.1",
        "127.255.0.9",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.1.2.3",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "64:ff9b::a00:1",
        "fec0::1",
    };
    static const char *const public_[] = {
        "1.1.1.1",        "8.8.8.8",         "93.184.216.34",
        "172.32.0.1",     "172.15.255.255",  "100.128.0.1",
        "192.169.0.1",    "2606:4700::1111", "2a00:1450:4001::1",
        "::ffff:8.8.8.8",
    };
    (void)state;

    for (size_t i = 0; i < sizeof(private_) / sizeof(private_[0]); i++)
        if (is_public(private_[i]))
            fail_msg("%s taken for public", private_[i]);
    for (size_t i = 0; i < sizeof(public_) / sizeof(public_[0]); i++)
        if (!is_public(public_[i]))
            fail_msg("%s taken for private", public_[i]);
}

static void test_urls(void **state)
{
    static const char *const bad[] = {
        "",
        "not a url",
        "example.com/hook",
        "ftp://example.com/",
        "http://example.com/",
        "https://",
        "https:///x",
        "https://u:p@example.com/",
        "https://u@example.com/",
        "https://example.com/#frag",
        "https://example.com/\r\nX-Injected: 1",
        "https://example.com/a b",
        "https://127.0.0.1/",
        "https://[::1]:8443/",
        "https://localhost/",
        "https://x.localhost/",
        "https://10.0.0.1/",
        "https://[::ffff:192.168.0.1]/",
    };
    static const char *const good[] = {
        "https://example.com/hook",
        "https://hooks.example.com:8443/in?x=1",
        "https://8.8.8.8/",
        "https://[2606:4700::1111]/",
    };
    struct bk_errbuf err;
    char long_url[BK_NET_URL_MAX + 32];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (bk_net_url_check(bad[i], false, &err) != BK_E_INVALID)
            fail_msg("'%s' accepted", bad[i]);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (bk_net_url_check(good[i], false, &err) != BK_OK)
            fail_msg("'%s' refused: %s", good[i], err.msg);
    /* The switch: http and private addresses, nothing else. */
    assert_int_equal(bk_net_url_check("http://127.0.0.1:9/x", true, &err),
                     BK_OK);
    assert_int_equal(bk_net_url_check("https://10.0.0.1/", true, &err), BK_OK);
    assert_int_equal(bk_net_url_check("ftp://127.0.0.1/", true, &err),
                     BK_E_INVALID);
    assert_int_equal(bk_net_url_check("http://u:p@127.0.0.1/", true, &err),
                     BK_E_INVALID);
    memcpy(long_url, "https://example.com/", 20);
    memset(long_url + 20, 'a', BK_NET_URL_MAX);
    long_url[BK_NET_URL_MAX + 1] = '\0';
    assert_int_equal(bk_net_url_check(long_url, false, &err), BK_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
