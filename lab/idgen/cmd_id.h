/* cmd_id.h - `distlab id decode|encode`: snowflake IDs for people reading them in logs. */
#ifndef DISTLAB_LAB_IDGEN_CMD_ID_H
#define DISTLAB_LAB_IDGEN_CMD_ID_H

/* argv[0] is "id". Returns an exit status (lab/cli.h): 0, or 2 for bad input. */
int lab_cmd_id(int argc, char **argv);

#endif
