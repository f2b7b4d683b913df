/* http/http.c — accessors of requests and responses; deferring. */
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "base/str.h"
#include "base/banned.h"

const char *bk_http_header(const struct bk_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (bk_str_ieq(req->headers[i].key, name))
            return req->headers[i].value;
    return NULL;
}

const char *bk_http_query(const struct bk_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_query; i++)
        if (strcmp(req->query[i].key, name) == 0)
            return req->query[i].value;
    return NULL;
}

const char *bk_http_param(const struct bk_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].key, name) == 0)
            return req->params[i].value;
    return NULL;
}

void bk_http_add_header(struct bk_http_response *resp, const char *name,
                        const char *value)
{
    if (resp->n_headers >= BK_HTTP_MAX_RESP_HEADERS)
        return;
    resp->headers[resp->n_headers].key = name;
    resp->headers[resp->n_headers].value = value;
    resp->n_headers++;
}

void bk_http_defer(struct bk_http_request *req)
{
    req->deferred = true;
}

void bk_http_resume(struct bk_http_request *req)
{
    if (!req->resume || !req->deferred)
        abort(); /* not a deferred request of the server: a bug */
    req->resume(req);
}
