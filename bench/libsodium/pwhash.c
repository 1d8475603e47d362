// pwhash: times libsodium's crypto_pwhash (Argon2id v1.3, one lane) at the
// given memory (KiB) and passes; prints milliseconds for each round.
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: pwhash MEM_KIB PASSES ROUNDS\n"); return 2; }
    unsigned long long mem = strtoull(argv[1], 0, 10) * 1024ULL;
    unsigned long long t = strtoull(argv[2], 0, 10);
    int rounds = atoi(argv[3]);
    if (sodium_init() < 0) return 1;
    unsigned char out[32], salt[crypto_pwhash_SALTBYTES] = {2};
    const char *pw = "correct horse battery staple";
    for (int i = 0; i < rounds; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (crypto_pwhash(out, sizeof out, pw, 28, salt, t, mem, crypto_pwhash_ALG_ARGON2ID13) != 0) return 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.3f\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
    }
    return 0;
}
