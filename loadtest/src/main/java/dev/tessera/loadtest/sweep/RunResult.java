package dev.tessera.loadtest.sweep;

import dev.tessera.loadtest.measure.RequestRecord;
import dev.tessera.loadtest.measure.RunSummary;
import java.util.List;

/** One run: its load point, summary and per-request records ({@code startNanos}: when the run began, on its trace clock). */
public record RunResult(LoadPoint point, RunSummary summary, List<RequestRecord> records, long startNanos) {
    public RunResult {
        records = List.copyOf(records);
    }
}
