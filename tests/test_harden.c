// test_harden.c: what a hostile or unlucky user does to the CLI, and what it must do back.
//   - stdout on a full disk (/dev/full): every reporting verb exits 1 with a message, not 0;
//   - -o onto a FIFO or a directory is refused (exit 2) and the node is left as it was, and a
//     write error names the path the user gave, never a temp name;
//   - a second training into the same --out folder is refused while the first holds its lock;
//   - Ctrl-C during training saves last.ckpt and exits 130, not 0.
#include "tests/testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_stdout_write_errors_are_not_silent(void **state) {
    (void)state;
    char model[4096], tok[4096], valid[4096], dir[4096], cfg[4200];
    snprintf(model, sizeof model, "%s", rq_test_data("llama2c/stories260K.bin"));
    snprintf(tok, sizeof tok, "%s", rq_test_data("llama2c/tok512.bin"));
    snprintf(valid, sizeof valid, "%s", rq_test_data("tinystories/valid.txt"));
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("harden_stdout"));
    const char *bin = rq_test_bin();
    rq_test_chat_fixture(dir, 6, cfg, sizeof cfg);
    char *err;
    int rc = rq_test_run(NULL, &err, "%s train %s --out %s/run --quiet", bin, cfg, dir);
    if (rc) fail_msg("chat train exit %d: %s", rc, err);
    free(err);
    rc = rq_test_run(NULL, &err, "%s export %s/run/best.ckpt --target cpm -o %s/chat.com && %s export %s --target host -o %s/m.rqm",
                     bin, dir, dir, bin, model, dir);
    if (rc) fail_msg("export exit %d: %s", rc, err);
    free(err);
    // Each verb writes to a full device: it must exit 1 and say so.
    static char cmds[12][16384];
    int n = 0;
    snprintf(cmds[n++], sizeof cmds[0], "version");
    snprintf(cmds[n++], sizeof cmds[0], "help");
    snprintf(cmds[n++], sizeof cmds[0], "data-stats %s/chat.txt --json", dir);
    snprintf(cmds[n++], sizeof cmds[0], "eval %s/run/best.ckpt --json", dir);
    snprintf(cmds[n++], sizeof cmds[0], "chat %s/run/best.ckpt hello", dir);
    snprintf(cmds[n++], sizeof cmds[0], "export %s/run/best.ckpt --target cpm -o %s/chat2.com --json", dir, dir);
    snprintf(cmds[n++], sizeof cmds[0], "export %s --target host -o %s/m2.rqm --json", model, dir);
    snprintf(cmds[n++], sizeof cmds[0], "generate %s -z %s -n 16 -s 1", model, tok);
    snprintf(cmds[n++], sizeof cmds[0], "eval %s --text %s -z %s --max-tokens 200 --json", model, valid, tok);
    snprintf(cmds[n++], sizeof cmds[0], "run %s/m.rqm -z %s -n 16 -t 0", dir, tok);
    snprintf(cmds[n++], sizeof cmds[0], "run --target cpm --dir %s %s/chat.com hello", dir, dir);
    for (int i = 0; i < n; i++) {
        rc = rq_test_run(NULL, &err, "%s %s >/dev/full", bin, cmds[i]);
        if (rc != 1 || !strstr(err, "standard output: write error")) fail_msg("%s >/dev/full: exit %d (want 1): %s", cmds[i], rc, err);
        free(err);
        rc = rq_test_run(NULL, &err, "%s %s >/dev/null", bin, cmds[i]);  // the same command is fine otherwise
        if (rc != 0) fail_msg("%s: exit %d: %s", cmds[i], rc, err);
        free(err);
    }
}

static void test_output_onto_a_fifo_or_directory_is_refused(void **state) {
    (void)state;
    char model[4096], dir[4096], fifo[4200], sub[4200];
    snprintf(model, sizeof model, "%s", rq_test_data("llama2c/stories260K.bin"));
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("harden_output"));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(mkdir(sub, 0755), 0);
    const char *targets[2] = {fifo, sub};
    const char *kinds[2] = {"is a FIFO", "is a directory"};
    for (int i = 0; i < 2; i++) {
        char *err;
        int rc = rq_test_run(NULL, &err, "%s export %s --target host -o %s", rq_test_bin(), model, targets[i]);
        if (rc != 2 || !strstr(err, kinds[i]) || !strstr(err, targets[i])) fail_msg("-o %s: exit %d (want 2, '%s'): %s", targets[i], rc, kinds[i], err);
        free(err);
    }
    struct stat st;
    assert_int_equal(stat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));  // still the FIFO, not replaced by a regular file
    // A write that fails names the user's path (here: a folder that does not exist).
    char *err;
    int rc = rq_test_run(NULL, &err, "%s export %s --target host -o %s/missing/m.rqm", rq_test_bin(), model, dir);
    assert_int_equal(rc, 1);
    char want[4300];
    snprintf(want, sizeof want, "%s/missing/m.rqm: cannot create", dir);
    if (!strstr(err, want) || strstr(err, ".tmp")) fail_msg("message should name %s: %s", want, err);
    free(err);
}

static void test_second_training_in_one_folder_is_refused(void **state) {
    (void)state;
    char dir[4096], cfg[4200], out[4200], lock[4300];
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("harden_lock"));
    rq_test_chat_fixture(dir, 6, cfg, sizeof cfg);
    snprintf(out, sizeof out, "%s/run", dir);
    assert_int_equal(mkdir(out, 0755), 0);
    snprintf(lock, sizeof lock, "%s/train.lock", out);
    // This process plays the first training: it holds the folder's lock.
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(write(fd, "4242\n", 5), 5);
    char *err;
    int rc = rq_test_run(NULL, &err, "%s train %s --out %s --quiet", rq_test_bin(), cfg, out);
    if (rc != 1 || !strstr(err, "another training is writing to this folder") || !strstr(err, "pid 4242"))
        fail_msg("second training: exit %d (want 1): %s", rc, err);
    free(err);
    char metrics[4300];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", out);
    assert_int_equal(access(metrics, F_OK), -1);  // refused before touching the folder's files
    close(fd);
    rc = rq_test_run(NULL, &err, "%s train %s --out %s --quiet", rq_test_bin(), cfg, out);
    if (rc) fail_msg("after the lock is released: exit %d: %s", rc, err);
    free(err);
}

static void test_interrupted_training_exits_130(void **state) {
    (void)state;
    char dir[4096], cfg[4200];
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("harden_sigint"));
    rq_test_chat_fixture(dir, 4000, cfg, sizeof cfg);  // minutes of training: the signal arrives first
    char *err;
    int rc = rq_test_run(NULL, &err,
                         "%s train %s --out %s/run --quiet & pid=$!; "
                         "while ! grep -q eval %s/run/metrics.jsonl 2>/dev/null; do sleep 0.02; done; kill -INT $pid; wait $pid",
                         rq_test_bin(), cfg, dir, dir);
    if (rc != 130 || !strstr(err, "interrupted at step")) fail_msg("interrupted training: exit %d (want 130): %s", rc, err);
    free(err);
    char last[4300];
    snprintf(last, sizeof last, "%s/run/last.ckpt", dir);
    assert_int_equal(access(last, R_OK), 0);
}

// A directory where a file is expected says so; a FIFO with no writer is refused at once instead
// of blocking generate / data-stats / eval forever.
static void test_directory_and_fifo_inputs(void **state) {
    (void)state;
    char tok[4096], dir[4096], fifo[4200];
    snprintf(tok, sizeof tok, "%s", rq_test_data("llama2c/tok512.bin"));
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("harden_inputs"));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    const char *verbs[3] = {"data-stats %s", "generate %s -z %s -n 4", "eval %s --text %s -z %s"};
    const char *paths[2] = {dir, fifo};
    const char *want[2] = {"is a directory", "is a FIFO, not a regular file"};
    for (int p = 0; p < 2; p++)
        for (int v = 0; v < 3; v++) {
            char args[13000], *err;
            snprintf(args, sizeof args, verbs[v], paths[p], v == 2 ? tok : tok, tok);
            int rc = rq_test_run(NULL, &err, "timeout 20 %s %s", rq_test_bin(), args);
            if (rc != 2 || !strstr(err, want[p])) fail_msg("%s: exit %d (want 2, '%s'): %s", args, rc, want[p], err);
            free(err);
        }
}

// An error inside a checkpoint's embedded chat image (CIMG) names the byte offset in the file, not
// in the section.
static void test_cimg_errors_count_from_the_file_start(void **state) {
    (void)state;
    char dir[4096], cfg[4200], ckpt[4300], bad[4300];
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("harden_cimg"));
    rq_test_chat_fixture(dir, 2, cfg, sizeof cfg);
    char *err;
    int rc = rq_test_run(NULL, &err, "%s train %s --out %s/run --quiet", rq_test_bin(), cfg, dir);
    if (rc) fail_msg("train exit %d: %s", rc, err);
    free(err);
    snprintf(ckpt, sizeof ckpt, "%s/run/best.ckpt", dir);
    uint8_t *d;
    size_t n;
    assert_int_equal(rq_read_file(ckpt, &d, &n), 0);
    long cimg = rq_test_rqf_section(d, n, "CIMG", NULL);
    assert_true(cimg > 0);
    d[cimg + 7] = 0;  // layer count 0
    rq_test_rqf_fix_crc(d, n);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    rq_test_write_bytes(bad, d, n);
    free(d);
    char want[4400];
    snprintf(want, sizeof want, "%s: byte %ld: bad layer count 0", bad, cimg + 7);
    rc = rq_test_run(NULL, &err, "%s chat %s hello", rq_test_bin(), bad);
    if (rc != 2 || !strstr(err, want)) fail_msg("exit %d (want 2, '%s'): %s", rc, want, err);
    free(err);
}

// One rule for config paths in both families: relative to the config file's folder, whatever the
// current directory (the test runs from the repository root, the config lives elsewhere).
static void test_config_paths_are_relative_to_the_config(void **state) {
    (void)state;
    char tok[4096], train[4096], dir[4096], sub[4200], cfg[4300], text[20000];
    snprintf(tok, sizeof tok, "%s", rq_test_data("llama2c/tok512.bin"));
    snprintf(train, sizeof train, "%s", rq_test_data("tinystories/train.txt"));
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("harden_cfgpaths"));
    snprintf(sub, sizeof sub, "%s/cfg", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    uint8_t *d;
    size_t n;
    assert_int_equal(rq_read_file(train, &d, &n), 0);
    snprintf(text, sizeof text, "%s/stories.txt", sub);
    rq_test_write_bytes(text, d, n < 20000 ? n : 20000);
    free(d);
    snprintf(text, sizeof text, "%s/tok.bin", sub);
    assert_int_equal(symlink(tok, text), 0);
    snprintf(cfg, sizeof cfg, "%s/llama.json", sub);
    rq_test_write(cfg, "{\"model\": \"llama\", \"tokenizer\": \"tok.bin\",\n"
                       " \"arch\": {\"dim\": 16, \"hidden_dim\": 32, \"n_layers\": 1, \"n_heads\": 2, \"n_kv_heads\": 1,\n"
                       "          \"vocab_size\": 512, \"seq_len\": 32},\n"
                       " \"data\": {\"train\": \"stories.txt\", \"valid\": \"stories.txt\", \"valid_tokens\": 256},\n"
                       " \"train\": {\"steps\": 1, \"batch\": 2, \"seq_len\": 32, \"eval_every\": 1}, \"out\": \"../run\"}\n");
    char *err;
    int rc = rq_test_run(NULL, &err, "%s train %s --quiet", rq_test_bin(), cfg);
    if (rc) fail_msg("llama config with relative paths: exit %d: %s", rc, err);
    free(err);
    snprintf(text, sizeof text, "%s/run/model.bin", dir);  // "out": "../run" is relative to the config too
    assert_int_equal(access(text, R_OK), 0);
    // the chat family: the same rule
    rq_test_chat_fixture(sub, 2, cfg, sizeof cfg);
    snprintf(text, sizeof text, "{\"model\": \"chat\", \"data\": \"chat.txt\", \"net\": {\"q_buckets\": 32, \"k_buckets\": 32, \"hidden\": [8]},"
                                " \"train\": {\"epochs\": 1, \"evals\": 1}}\n");
    rq_test_write(cfg, text);
    rc = rq_test_run(NULL, &err, "%s train %s --quiet --out %s/chatrun", rq_test_bin(), cfg, dir);
    if (rc) fail_msg("chat config with a relative data path: exit %d: %s", rc, err);
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdout_write_errors_are_not_silent),
        cmocka_unit_test(test_output_onto_a_fifo_or_directory_is_refused),
        cmocka_unit_test(test_second_training_in_one_folder_is_refused),
        cmocka_unit_test(test_interrupted_training_exits_130),
        cmocka_unit_test(test_directory_and_fifo_inputs),
        cmocka_unit_test(test_cimg_errors_count_from_the_file_start),
        cmocka_unit_test(test_config_paths_are_relative_to_the_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
