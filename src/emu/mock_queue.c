/* mock_queue.c: a model's running slots. With `max_running` (vLLM's
 * max_num_seqs, llama.cpp's --parallel) at most that many requests of a
 * model generate at once; the others wait, oldest first, and their time
 * to first token starts when they get a slot -- the queueing a real server
 * shows under overload, and what /metrics reports as waiting. A stream's
 * headers and role chunk still go out at arrival, as vLLM's do. */
#include "mock_int.h"

int mk_queue_wait(mk_req *r)
{
    mk_model *md = r->model;
    if (md->max_running <= 0 || md->active < (unsigned)md->max_running)
        return 0;
    r->queued = 1;
    r->next_wait = NULL;
    if (md->wait_tail)
        md->wait_tail->next_wait = r;
    else
        md->wait_head = r;
    md->wait_tail = r;
    md->waiting++;
    return 1;
}

void mk_queue_leave(mk_req *r)
{
    mk_model *md = r->model;
    mk_req *prev = NULL;
    for (mk_req *q = md->wait_head; q; prev = q, q = q->next_wait) {
        if (q != r)
            continue;
        if (prev)
            prev->next_wait = q->next_wait;
        else
            md->wait_head = q->next_wait;
        if (md->wait_tail == q)
            md->wait_tail = prev;
        md->waiting--;
        break;
    }
    r->queued = 0;
    r->next_wait = NULL;
}

void mk_queue_release(mb_mock *m, mk_model *md)
{
    if (m->life.stopping)
        return;
    while (md->wait_head && (md->max_running <= 0 || md->active < (unsigned)md->max_running)) {
        mk_req *r = md->wait_head;
        md->wait_head = r->next_wait;
        if (!md->wait_head)
            md->wait_tail = NULL;
        md->waiting--;
        r->next_wait = NULL;
        mk_req_admit(r);   /* clears r->queued after stamping its wait */
    }
}

void mk_queue_cut_all(mb_mock *m, void (*finish)(mk_req *, const char *))
{
    for (mk_model *md = m->models; md; md = md->next)   /* the fallback is one of them */
        while (md->wait_head)
            finish(md->wait_head, "server_stopped");
}
