/**
 * What a load run sends: {@link dev.tessera.loadtest.workload.LoadRequest}s drawn from a synthetic workload (prompt
 * and output lengths from {@link dev.tessera.loadtest.workload.LengthDistribution}s) or read from a JSONL file.
 */
@NullMarked
package dev.tessera.loadtest.workload;

import org.jspecify.annotations.NullMarked;
