/* Shared declarations of the stub browser's files; stub_browser.c says
 * what the stub does and how to run it. */
#ifndef CORRAL_STUB_H
#define CORRAL_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdnoreturn.h>
#include <sys/types.h>

#define MAX_CHILDREN 4096

extern const char *prog;

/* stub_util.c: errors, time, option parsing */
void die(const char *what);
void usage_error(const char *opt, const char *val);
double now_mono(void);
void sleep_seconds(double s);
long parse_long(const char *opt, const char *val, long min, long max);
double parse_seconds(const char *opt, const char *val);
bool opt_value(int argc, char **argv, int *i, const char *name, const char **val);
int write_all(int fd, const void *buf, size_t len);

/* stub_tree.c: the process tree that is hard to clean up */
void kill_made(void);
noreturn void sleep_forever(void);
noreturn void spin_forever(void);
void ignore_signals(void);
pid_t fork_child(void (*fn)(void));
pid_t fork_escapee(void);
void write_pid_file(const char *path);
void write_keyring_file(const char *dir);
void allocate(long mb);

/* stub_devtools.c: Chrome's DevTools start-up, played */
extern const char *deep_json_path; /* --deep-json: the path answered with deep nesting */
int listen_for_devtools(int *port);
void write_devtools_active_port(const char *dir, int port);
void plant_devtools_active_port(const char *dir, const char *symlink_target);
extern bool hold_websockets; /* --hold-websockets */
void read_request(int client, char *request, size_t size);
void answer_version(int client, int port);
bool serve_devtools_request(int listener, int port);
bool idle(double seconds, int listener, int port);

/* stub_websockets.c: WebSocket connections upgraded and held */
bool idle_holding_websockets(double seconds, int listener, int port);

#endif
