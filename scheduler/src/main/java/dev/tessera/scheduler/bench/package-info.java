/** Benchmarks of the scheduler: {@link dev.tessera.scheduler.bench.GenerateBench}. */
package dev.tessera.scheduler.bench;
