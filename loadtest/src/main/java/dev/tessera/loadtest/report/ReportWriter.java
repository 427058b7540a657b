package dev.tessera.loadtest.report;

import dev.tessera.loadtest.measure.Json;
import dev.tessera.loadtest.measure.LatencyStats;
import dev.tessera.loadtest.measure.OutputNames;
import dev.tessera.loadtest.measure.RunSummary;
import dev.tessera.loadtest.sweep.RunResult;
import dev.tessera.loadtest.sweep.SweepOutput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Writes a sweep's report directory: PNG plots and an {@code index.html} embedding them with the summary table.
 * <ul>
 *   <li>{@code ttft_vs_rate.png}, {@code tpot_vs_rate.png}, {@code itl_vs_rate.png}, {@code e2el_vs_rate.png}:
 *       p50, p90 and p99 against the offered request rate;</li>
 *   <li>{@code throughput_vs_rate.png}: achieved request throughput and goodput against the offered rate, with the
 *       ideal (achieved = offered) and the knee marked;</li>
 *   <li>{@code tokens_per_user.png}: tokens/s per user against total output tokens/s, one point per rate.</li>
 * </ul>
 * A sweep of closed-loop runs (no rate) uses the concurrency as the x axis.
 */
public final class ReportWriter {
    /** The plot files, in the order of the page. */
    public static final List<String> PLOTS = List.of("ttft_vs_rate.png", "tpot_vs_rate.png", "itl_vs_rate.png",
            "e2el_vs_rate.png", "throughput_vs_rate.png", "tokens_per_user.png");

    private static final int WIDTH = 800;
    private static final int HEIGHT = 500;

    private ReportWriter() {
    }

    /** Writes the report of {@code runs} into {@code dir} (created if needed); returns the files written. */
    public static List<Path> write(Path dir, String title, OutputNames names, String table, List<RunResult> runs)
            throws IOException {
        if (runs.isEmpty()) throw new IllegalArgumentException("no run to report");
        Files.createDirectories(dir);
        boolean closed = runs.stream().anyMatch(r -> r.point().closedLoop());
        String xName = closed ? "Concurrency (requests in flight)" : "Offered request rate (req/s)";
        double[] x = runs.stream().mapToDouble(r -> closed ? r.point().maxConcurrency() : r.point().rate()).toArray();
        List<Path> files = new ArrayList<>();
        files.add(latency(dir, "ttft_vs_rate.png", names == OutputNames.TEXT ? "Time to first token" : names.first(), xName,
                x, runs, RunSummary::ttft));
        files.add(latency(dir, "tpot_vs_rate.png", names == OutputNames.TEXT ? "Time per output token" : names.perOutput(),
                xName, x, runs, RunSummary::tpot));
        files.add(latency(dir, "itl_vs_rate.png", names == OutputNames.TEXT ? "Inter-token latency" : names.gap(), xName, x,
                runs, RunSummary::itl));
        files.add(latency(dir, "e2el_vs_rate.png", names == OutputNames.TEXT ? "End-to-end latency" : names.end(), xName,
                x, runs, RunSummary::e2el));
        files.add(throughput(dir, xName, x, runs, closed));
        files.add(tokensPerUser(dir, names, runs));
        Path index = dir.resolve("index.html");
        Files.writeString(index, html(title, table));
        files.add(index);
        return files;
    }

    private static Path latency(Path dir, String file, String title, String xName, double[] x, List<RunResult> runs,
                                Function<RunSummary, LatencyStats> stat) throws IOException {
        XYChart chart = chart(title, xName, "ms");
        add(chart, "p50", x, values(runs, s -> stat.apply(s).p50()));
        add(chart, "p90", x, values(runs, s -> stat.apply(s).p90()));
        add(chart, "p99", x, values(runs, s -> stat.apply(s).p99()));
        return save(chart, dir.resolve(file));
    }

    private static Path throughput(Path dir, String xName, double[] x, List<RunResult> runs, boolean closed)
            throws IOException {
        XYChart chart = chart("Throughput and goodput", xName, "req/s");
        double[] tput = values(runs, RunSummary::requestThroughput);
        add(chart, "request throughput", x, tput);
        double[] good = values(runs, RunSummary::goodput);
        if (finite(good)) add(chart, "goodput", x, good);
        if (!closed) {
            XYSeries ideal = chart.addSeries("offered (ideal)", new double[] {x[0], x[x.length - 1]},
                    new double[] {x[0], x[x.length - 1]});
            ideal.setMarker(SeriesMarkers.NONE);
        }
        int knee = SweepOutput.knee(runs);
        if (knee >= 0) {
            XYSeries k = chart.addSeries("knee (" + Json.number(x[knee]) + " req/s)", new double[] {x[knee]},
                    new double[] {tput[knee]});
            k.setMarker(SeriesMarkers.DIAMOND);
            k.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        }
        return save(chart, dir.resolve("throughput_vs_rate.png"));
    }

    private static Path tokensPerUser(Path dir, OutputNames names, List<RunResult> runs) throws IOException {
        String what = names == OutputNames.TEXT ? "Tokens" : names.outputs();
        XYChart chart = chart(what + "/s per user against total " + what.toLowerCase(java.util.Locale.ROOT) + "/s",
                "Total " + what.toLowerCase(java.util.Locale.ROOT) + "/s", what + "/s per user (mean 1000/"
                        + names.perOutput() + ")");
        add(chart, "one point per load", values(runs, RunSummary::outputThroughput),
                values(runs, RunSummary::tokensPerUser));
        return save(chart, dir.resolve("tokens_per_user.png"));
    }

    private static XYChart chart(String title, String x, String y) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(x).yAxisTitle(y)
                .build();
        chart.getStyler().setMarkerSize(8);
        return chart;
    }

    /** Adds a series, with NaNs (undefined points) dropped. */
    private static void add(XYChart chart, String name, double[] x, double[] y) {
        List<Double> xs = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        for (int i = 0; i < x.length; i++) {
            if (Double.isFinite(x[i]) && Double.isFinite(y[i])) {
                xs.add(x[i]);
                ys.add(y[i]);
            }
        }
        if (xs.isEmpty()) {
            xs.add(0.0);
            ys.add(0.0);
        }
        chart.addSeries(name, xs, ys);
    }

    private static double[] values(List<RunResult> runs, ToDoubleFunction<RunSummary> f) {
        return runs.stream().mapToDouble(r -> f.applyAsDouble(r.summary())).toArray();
    }

    private static boolean finite(double[] v) {
        for (double d : v) if (Double.isFinite(d)) return true;
        return false;
    }

    private static Path save(XYChart chart, Path file) throws IOException {
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }

    private static String html(String title, String table) {
        StringBuilder b = new StringBuilder("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>")
                .append(escape(title)).append("</title></head>\n<body style=\"font-family:sans-serif\">\n<h1>")
                .append(escape(title)).append("</h1>\n");
        for (String plot : PLOTS) {
            b.append("<p><img src=\"").append(plot).append("\" alt=\"").append(plot).append("\"></p>\n");
        }
        return b.append("<h2>Summary</h2>\n<pre>").append(escape(table)).append("</pre>\n</body></html>\n")
                .toString();
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
