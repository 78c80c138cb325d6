// verbs.h: the entry point of every CLI verb. Each takes the arguments after the verb name
// and returns the process exit code (0 ok, 1 runtime failure, 2 bad input/usage).
// Verbs that serve both model families are dispatched in main.c by the model file or config.
#ifndef RQ_VERBS_H
#define RQ_VERBS_H

// trigram chat family (cli/chat_verbs.c)
int verb_data_stats(int argc, char **argv);
int verb_chat(int argc, char **argv);
int chat_train_main(int argc, char **argv);
int chat_eval_main(int argc, char **argv);

// TinyStories transformer family (cli/lm_verbs.c)
int verb_generate(int argc, char **argv);
int lm_train_main(int argc, char **argv);  // "model": "llama" or "llama-int8" (train/llama_family.h)
int lm_eval_main(int argc, char **argv);

// every target (cli/target_verbs.c, over the registry of export/target.h)
int verb_export(int argc, char **argv);
int verb_run(int argc, char **argv);
int verb_targets(int argc, char **argv);


#endif
