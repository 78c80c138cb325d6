// cpm_hostpath.h: a CP/M file name -> a host file inside the emulator's folder, and nothing else.
//
// A .COM from anywhere names files by raw FCB bytes (8 name + 3 type). Only valid CP/M 8.3
// characters may reach the host: no '/', '\', '.', control or 8-bit bytes, no embedded blanks, so
// "../VICTI" is not a name at all (the BDOS call fails with FFh). The host file is then opened
// relative to the folder (openat on a descriptor of --dir) with O_NOFOLLOW, and must be a regular
// file: a symbolic link planted in the folder cannot lead the program outside it, because the
// check is made on what the kernel resolved, not only on the string.
#ifndef RQ_CPM_HOSTPATH_H
#define RQ_CPM_HOSTPATH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

// 1 when c may appear in a CP/M 8.3 name on the host (printable ASCII, none of <>.,;:=?*[]|/\").
int cpm_name_char_ok(unsigned char c);
// The host name "NAME.TYP" of an FCB name+type (11 bytes, attributes stripped, upper-cased;
// '?' is refused too: wildcards never name one file). 1 and out filled, or 0 when not 8.3.
int cpm_fcb_host_name(const uint8_t pat[11], char out[13]);
// open(2) of PATH = DIR "/" NAME, confined: NAME must be one valid 8.3 component, symbolic links
// are refused (ELOOP) and so is anything but a regular file (EINVAL). -1 with errno on failure.
int cpm_host_open(const char *dir, const char *path, int flags, mode_t mode);
// lstat-like: 0 and *sb for a regular file DIR/NAME, -1 (errno) for a link, a non-file or none.
int cpm_host_stat(const char *dir, const char *path, struct stat *sb);

#endif
