/* shim: <mach/mach.h> of macOS, only what src/platform/darwin.c uses */
#ifndef MB_SHIM_MACH_MACH_H
#define MB_SHIM_MACH_MACH_H
#include <stdint.h>
typedef int kern_return_t;
typedef unsigned int natural_t;
typedef int integer_t;
typedef natural_t mach_port_t;
typedef mach_port_t task_name_t;
typedef natural_t task_flavor_t;
typedef integer_t *task_info_t;
typedef natural_t mach_msg_type_number_t;
typedef uint64_t mach_vm_size_t;
typedef int policy_t;
typedef struct time_value { integer_t seconds; integer_t microseconds; } time_value_t;
struct mach_task_basic_info {
    mach_vm_size_t virtual_size;
    mach_vm_size_t resident_size;
    mach_vm_size_t resident_size_max;
    time_value_t user_time;
    time_value_t system_time;
    policy_t policy;
    integer_t suspend_count;
};
typedef struct mach_task_basic_info mach_task_basic_info_data_t;
#define MACH_TASK_BASIC_INFO 20
#define MACH_TASK_BASIC_INFO_COUNT \
    ((mach_msg_type_number_t)(sizeof(mach_task_basic_info_data_t) / sizeof(natural_t)))
/* <mach/thread_info.h> */
typedef mach_port_t thread_inspect_t;
typedef natural_t thread_flavor_t;
typedef integer_t *thread_info_t;
struct thread_basic_info {
    time_value_t user_time;
    time_value_t system_time;
    integer_t cpu_usage;
    policy_t policy;
    integer_t run_state;
    integer_t flags;
    integer_t suspend_count;
    integer_t sleep_time;
};
typedef struct thread_basic_info thread_basic_info_data_t;
#define THREAD_BASIC_INFO 3
#define THREAD_BASIC_INFO_COUNT \
    ((mach_msg_type_number_t)(sizeof(thread_basic_info_data_t) / sizeof(natural_t)))
kern_return_t thread_info(thread_inspect_t target_act, thread_flavor_t flavor,
                          thread_info_t thread_info_out, mach_msg_type_number_t *thread_info_outCnt);
/* <mach/mach_init.h>, <mach/mach_port.h> */
typedef mach_port_t ipc_space_t;
typedef natural_t mach_port_name_t;
mach_port_t mach_thread_self(void);
kern_return_t mach_port_deallocate(ipc_space_t task, mach_port_name_t name);
#define KERN_SUCCESS 0
extern mach_port_t mach_task_self_;
#define mach_task_self() mach_task_self_
kern_return_t task_info(task_name_t target_task, task_flavor_t flavor, task_info_t task_info_out,
                        mach_msg_type_number_t *task_info_outCnt);
#endif
