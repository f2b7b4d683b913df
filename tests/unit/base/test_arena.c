/* tests/unit/base/test_arena.c — base/arena.c: zeroed, aligned blocks that
 * live until release; copies; the overflow guard. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/arena.h"

static void test_alloc(void **state)
{
    struct bk_arena a;
    unsigned char *blocks[2000];

    (void)state;
    bk_arena_init(&a);
    assert_int_equal(a.total, 0);
    /* Many sizes, small and over a chunk: zeroed, 16-byte aligned, distinct
     * and still intact after later allocations. */
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(i % 7 == 0 ? 5000 + i : i % 100 + 1);
        blocks[i] = bk_arena_alloc(&a, n);
        assert_non_null(blocks[i]);
        assert_int_equal((uintptr_t)blocks[i] % 16, 0);
        for (size_t j = 0; j < n; j++)
            if (blocks[i][j] != 0)
                fail_msg("block %d byte %zu not zeroed", i, j);
        memset(blocks[i], i % 251 + 1, n);
    }
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(i % 7 == 0 ? 5000 + i : i % 100 + 1);
        for (size_t j = 0; j < n; j++)
            if (blocks[i][j] != i % 251 + 1)
                fail_msg("block %d byte %zu overwritten", i, j);
    }
    assert_true(a.total >= 2000);
    assert_non_null(bk_arena_alloc(&a, 0));
    bk_arena_release(&a);
    assert_null(a.head);
    assert_int_equal(a.total, 0);
    /* Reusable after release. */
    assert_non_null(bk_arena_alloc(&a, 10));
    bk_arena_release(&a);
    bk_arena_release(&a);
}

static void test_copies(void **state)
{
    struct bk_arena a;
    char *s;
    unsigned char *m;

    (void)state;
    bk_arena_init(&a);
    assert_null(bk_arena_strdup(&a, NULL));
    assert_null(bk_arena_strndup(&a, NULL, 3));
    assert_string_equal(bk_arena_strdup(&a, "slot"), "slot");
    assert_string_equal(bk_arena_strdup(&a, ""), "");
    assert_string_equal(bk_arena_strndup(&a, "abcdef", 3), "abc");
    assert_string_equal(bk_arena_strndup(&a, "ab", 10), "ab");
    m = bk_arena_memdup(&a, "x\0y", 3);
    assert_memory_equal(m, "x\0y", 3);
    assert_int_equal(m[3], 0); /* NUL-terminated for text blobs */
    s = bk_arena_printf(&a, "%s-%d-%05.1f", "a", 42, 2.5);
    assert_string_equal(s, "a-42-002.5");
    s = bk_arena_printf(&a, "%s", "");
    assert_string_equal(s, "");
    /* A long formatted string gets a chunk of its own. */
    s = bk_arena_printf(&a, "%9000d", 1);
    assert_int_equal(strlen(s), 9000);
    assert_int_equal(s[8999], '1');
    bk_arena_release(&a);
}

static void test_array(void **state)
{
    struct bk_arena a;
    int64_t *v;
    pid_t pid;
    int status;

    (void)state;
    bk_arena_init(&a);
    v = bk_arena_array(&a, 1000, sizeof(*v));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(v[i], 0);
    assert_non_null(bk_arena_array(&a, 0, sizeof(*v)));
    bk_arena_release(&a);

    /* count * size overflowing size_t aborts rather than under-allocating. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct bk_arena c;
        bk_arena_init(&c);
        (void)bk_arena_array(&c, SIZE_MAX / 4, 8);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc),
        cmocka_unit_test(test_copies),
        cmocka_unit_test(test_array),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
