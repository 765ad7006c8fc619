/* main.c - the distlab executable: its verbs. Add a verb with one line below. */
#include "lab/cli.h"
#include "lab/cmd_id.h"

static const struct lab_cmd commands[] = {
    {"list", lab_cmd_list, "scenario files with their one-line description (-v: workloads)"},
    {"run", lab_cmd_run, "run scenarios: results/<name>/ and plots/<name>/"},
    {"check", lab_cmd_check, "run scenarios, print each expectation PASS/FAIL, no plots"},
    {"id", lab_cmd_id, "decode snowflake IDs into time, datacenter, worker, sequence; encode one"},
    /* More verbs go here, one line each, e.g. the snowflake helper's
     * {"id", lab_cmd_id, "..."} from lab/cmd_id.c (declare it in its own header). */
    {0},
};

int main(int argc, char **argv)
{
    return lab_main(commands, argc, argv);
}
