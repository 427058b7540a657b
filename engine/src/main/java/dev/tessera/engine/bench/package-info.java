/** Benchmarks that print side-by-side ratios (never timing assertions). */
@NullMarked
package dev.tessera.engine.bench;

import org.jspecify.annotations.NullMarked;
