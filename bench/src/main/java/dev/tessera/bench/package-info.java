/** Benchmarks that print side-by-side ratios (never timing assertions). */
@NullMarked
package dev.tessera.bench;

import org.jspecify.annotations.NullMarked;
