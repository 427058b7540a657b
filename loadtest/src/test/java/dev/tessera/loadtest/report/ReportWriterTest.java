package dev.tessera.loadtest.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.loadtest.measure.OutputNames;
import dev.tessera.loadtest.measure.RequestRecord;
import dev.tessera.loadtest.measure.RunSummary;
import dev.tessera.loadtest.measure.Slo;
import dev.tessera.loadtest.sweep.LoadPoint;
import dev.tessera.loadtest.sweep.RunResult;
import dev.tessera.loadtest.sweep.SweepOutput;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A sweep's report: every plot a PNG, embedded by index.html; the JSON summary and raw JSONL. */
class ReportWriterTest {
    private static final byte[] PNG = {(byte) 0x89, 'P', 'N', 'G'};

    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    /** A sweep whose throughput saturates at 4 req/s. */
    private static List<RunResult> sweep() {
        Slo slo = Slo.parse(List.of("ttft:100"));
        List<RunResult> runs = new ArrayList<>();
        for (double rate : new double[] {1, 2, 4, 8}) {
            double tput = Math.min(rate, 4.2);
            double ttft = rate <= 4 ? 40 : 400;
            List<RequestRecord> records = new ArrayList<>();
            int n = (int) Math.round(tput * 10);
            for (int i = 0; i < n; i++) {
                records.add(new RequestRecord(i, i * 1_000_000L, ttft + i, 10, new double[] {10, 11}, ttft + 30, 8,
                        3, 0, "OK", ""));
            }
            runs.add(new RunResult(new LoadPoint(rate, 1, 0), RunSummary.of(rate, 1, 0, 10, records, slo), records, 0));
        }
        return runs;
    }

    @Test
    void writesEveryPlotAsPngAndAnIndexEmbeddingThem(@TempDir Path dir) throws Exception {
        List<RunResult> runs = sweep();
        List<Path> files = ReportWriter.write(dir, "test", OutputNames.TEXT, "table", runs);
        assertEquals(ReportWriter.PLOTS.size() + 1, files.size());
        String index = Files.readString(dir.resolve("index.html"));
        for (String plot : ReportWriter.PLOTS) {
            byte[] head = Arrays.copyOf(Files.readAllBytes(dir.resolve(plot)), 4);
            assertArrayEquals(PNG, head, plot + " is a PNG");
            assertTrue(index.contains("<img src=\"" + plot + "\""), plot + " is embedded");
        }
    }

    @Test
    void theJsonSummaryNamesTheKneeAndEveryRun(@TempDir Path dir) throws Exception {
        List<RunResult> runs = sweep();
        String json = SweepOutput.json("generate", "grpc", "tiny", runs, Slo.parse(List.of("ttft:100")));
        assertTrue(json.startsWith("{\"kind\":\"generate\",\"transport\":\"grpc\",\"model\":\"tiny\",\"goodput_slo\":\"ttft:100\","
                + "\"knee_rate\":4,\"runs\":[{\"rate\":1,"), json);
        assertEquals(4, json.split("\"request_throughput\"").length - 1);
        Path raw = dir.resolve("raw.jsonl");
        SweepOutput.writeRaw(raw, runs);
        List<String> lines = Files.readAllLines(raw);
        assertEquals(runs.stream().mapToInt(r -> r.records().size()).sum(), lines.size());
        assertTrue(lines.get(0).startsWith("{\"rate\":1,\"index\":0,\"start_ms\":0,\"status\":\"OK\",\"ttft_ms\":40,"),
                lines.get(0));
    }
}
