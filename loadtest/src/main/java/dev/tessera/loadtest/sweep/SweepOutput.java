package dev.tessera.loadtest.sweep;

import dev.tessera.loadtest.measure.Json;
import dev.tessera.loadtest.measure.LatencyStats;
import dev.tessera.loadtest.measure.OutputNames;
import dev.tessera.loadtest.measure.RequestRecord;
import dev.tessera.loadtest.measure.RunSummary;
import dev.tessera.loadtest.measure.Slo;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The text outputs of a sweep: the summary table, the JSON summary object, the raw per-request JSONL. */
public final class SweepOutput {
    private SweepOutput() {
    }

    /** The index of the knee of achieved request throughput against offered rate, or -1 (closed loops, one run). */
    public static int knee(List<RunResult> runs) {
        if (runs.size() < 2 || runs.stream().anyMatch(r -> r.point().closedLoop())) return -1;
        double[] x = runs.stream().mapToDouble(r -> r.point().rate()).toArray();
        double[] y = runs.stream().mapToDouble(r -> r.summary().requestThroughput()).toArray();
        return Knee.of(x, y);
    }

    /** The summary table: one block per run. */
    public static String table(String transport, OutputNames names, List<RunResult> runs, Slo slo) {
        StringBuilder b = new StringBuilder();
        for (RunResult run : runs) {
            RunSummary s = run.summary();
            b.append(String.format(Locale.ROOT, "============ %s, %s ============%n", transport, run.point().label()));
            row(b, "Duration (s)", s.durationS());
            b.append(String.format(Locale.ROOT, "%-34s %12d%n", "Successful requests", s.completed()));
            b.append(String.format(Locale.ROOT, "%-34s %12d%n", "Failed requests", s.failed()));
            for (Map.Entry<String, Integer> e : s.errorsByStatus().entrySet()) {
                b.append(String.format(Locale.ROOT, "  %-32s %12d%n", e.getKey(), e.getValue()));
            }
            b.append(String.format(Locale.ROOT, "%-34s %12d%n", names.outputs(), s.outputTokens()));
            if (names == OutputNames.DETECTION) {
                b.append(String.format(Locale.ROOT, "%-34s %12d%n", "Frames skipped", s.skipped()));
            }
            row(b, "Request throughput (req/s)", s.requestThroughput());
            if (slo.any()) row(b, "Goodput (req/s, " + slo + ")", s.goodput());
            row(b, names.throughput(), s.outputThroughput());
            row(b, names.perUser(), s.tokensPerUser());
            b.append(String.format(Locale.ROOT, "%-18s %9s %9s %9s %9s %9s%n", "latency (ms)", "mean", "std", "p50",
                    "p90", "p99"));
            stats(b, names.first(), s.ttft());
            stats(b, names.perOutput(), s.tpot());
            stats(b, names.gap(), s.itl());
            stats(b, names.end(), s.e2el());
        }
        int knee = knee(runs);
        if (knee >= 0) {
            b.append(String.format(Locale.ROOT, "knee: %s%n", runs.get(knee).point().label()));
        } else if (runs.size() > 2 && runs.stream().noneMatch(r -> r.point().closedLoop())) {
            b.append(String.format(Locale.ROOT, "knee: none, throughput still follows the offered rate"
                    + " (sweep higher rates)%n"));
        }
        return b.toString();
    }

    private static void row(StringBuilder b, String name, double v) {
        b.append(String.format(Locale.ROOT, "%-34s %12.2f%n", name, v));
    }

    private static void stats(StringBuilder b, String name, LatencyStats s) {
        b.append(String.format(Locale.ROOT, "%-18s %9.2f %9.2f %9.2f %9.2f %9.2f%n", name, s.mean(), s.std(), s.p50(),
                s.p90(), s.p99()));
    }

    /**
     * The JSON summary object, on one line. {@code kind} says how to read the measures: for {@code diffuse},
     * {@code ttft_ms} is the time to first preview and {@code e2el_ms} the image latency; for {@code detect},
     * {@code itl_ms} is the frame latency (see {@link OutputNames}).
     */
    public static String json(String kind, String transport, String model, List<RunResult> runs, Slo slo) {
        StringBuilder b = new StringBuilder("{\"kind\":").append(Json.string(kind))
                .append(",\"transport\":").append(Json.string(transport))
                .append(",\"model\":").append(Json.string(model))
                .append(",\"goodput_slo\":").append(Json.string(slo.toString()));
        int knee = knee(runs);
        b.append(",\"knee_rate\":").append(knee < 0 ? "null" : Json.number(runs.get(knee).point().rate()));
        b.append(",\"runs\":[");
        for (int i = 0; i < runs.size(); i++) {
            if (i > 0) b.append(',');
            b.append(runs.get(i).summary().toJson());
        }
        return b.append("]}").toString();
    }

    /** Writes every request of every run as JSONL, each line with its run's offered rate. */
    public static void writeRaw(Path file, List<RunResult> runs) throws IOException {
        try (BufferedWriter w = Files.newBufferedWriter(file)) {
            for (RunResult run : runs) {
                String prefix = "{\"rate\":" + Json.number(run.point().rate()) + ",";
                for (RequestRecord r : run.records()) {
                    String json = r.toJson(run.startNanos());
                    w.write(prefix);
                    w.write(json, 1, json.length() - 1);
                    w.newLine();
                }
            }
        }
    }
}
