/**
 * The one measurement path every transport feeds: a {@link dev.tessera.loadtest.measure.RequestTrace} per request
 * (send, each token chunk, end), its {@link dev.tessera.loadtest.measure.RequestRecord}, and the
 * {@link dev.tessera.loadtest.measure.RunSummary} of a run (TTFT, TPOT, ITL, E2E latency, throughput, goodput).
 * Every stamp is read from one {@link dev.tessera.loadtest.measure.TraceClock}: the system's, or a test's.
 */
@NullMarked
package dev.tessera.loadtest.measure;

import org.jspecify.annotations.NullMarked;
