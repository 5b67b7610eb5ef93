/* list: the intrusive doubly-linked lists every layer keeps (connections of
 * a server, requests of a client, trace records, ...), as macros over the
 * node's link fields, so each list names its own (prev/next, pend_prev/
 * pend_next, ...). Pure C. */
#ifndef MLXBENCH_LIST_H
#define MLXBENCH_LIST_H

#include <stddef.h>

/* Pushes node at the front of the list whose first node is `head`. */
#define MB_LIST_PUSH(head, node, prev, next) do {     \
        (node)->prev = NULL;                          \
        (node)->next = (head);                        \
        if (head)                                     \
            (head)->prev = (node);                    \
        (head) = (node);                              \
    } while (0)

/* Appends node at the back of a list kept with its first and last node. */
#define MB_LIST_APPEND(head, tail, node, prev, next) do { \
        (node)->next = NULL;                              \
        (node)->prev = (tail);                            \
        if (tail)                                         \
            (tail)->next = (node);                        \
        else                                              \
            (head) = (node);                              \
        (tail) = (node);                                  \
    } while (0)

/* Unlinks node from a list kept with its first node only. */
#define MB_LIST_REMOVE(head, node, prev, next) do {   \
        if ((node)->prev)                             \
            (node)->prev->next = (node)->next;        \
        else                                          \
            (head) = (node)->next;                    \
        if ((node)->next)                             \
            (node)->next->prev = (node)->prev;        \
        (node)->prev = (node)->next = NULL;           \
    } while (0)

/* Unlinks node from a list kept with its first and last node. */
#define MB_LIST_REMOVE2(head, tail, node, prev, next) do { \
        if (!(node)->next)                                 \
            (tail) = (node)->prev;                         \
        MB_LIST_REMOVE(head, node, prev, next);            \
    } while (0)

#endif
