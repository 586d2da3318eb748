/* TEMPORARY: stubs so the tree links while the ledger commands are written. */
#include "common.h"
#include "cmd.h"
#define STUB(n) int n(int argc, char **argv) { (void)argc; (void)argv; return cmd_error("not implemented yet"); }
STUB(cmd_init) STUB(cmd_key) STUB(cmd_log) STUB(cmd_note) STUB(cmd_reindex) STUB(cmd_show) STUB(cmd_verify)
