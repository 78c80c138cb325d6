// chat_verbs.c: CLI verbs of the trigram chat family.
// (placeholder until this family lands: each verb reports that it is not built yet)
#include <stdio.h>

#include "base/err.h"
#include "cli/verbs.h"

static int not_built(const char *what, int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (argv[i][0] == '-' && (argv[i][1] == 'h' || argv[i][2] == 'h')) {
            printf("retroqat %s: not built yet\n", what);
            return 0;
        }
    return rq_report(rq_fail(RQ_ERUNTIME, "%s is not built yet", what));
}

int verb_data_stats(int argc, char **argv) { return not_built("verb_data_stats", argc, argv); }
int verb_chat(int argc, char **argv) { return not_built("verb_chat", argc, argv); }
int chat_train_main(int argc, char **argv) { return not_built("chat_train_main", argc, argv); }
int chat_eval_main(int argc, char **argv) { return not_built("chat_eval_main", argc, argv); }
