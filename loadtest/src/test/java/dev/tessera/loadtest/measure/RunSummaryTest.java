package dev.tessera.loadtest.measure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Goodput (DistServe: requests meeting every given SLO, per second), statistics and errors by status. */
class RunSummaryTest {
    private static RequestRecord ok(int i, double ttft, double tpot, double e2el, int tokens) {
        return new RequestRecord(i, 0, ttft, tpot, new double[] {tpot}, e2el, 10, tokens, 0, "OK", "");
    }

    private static RequestRecord failed(int i, String status) {
        return new RequestRecord(i, 0, Double.NaN, Double.NaN, new double[0], 5, 10, 0, 0, status, "boom");
    }

    @Test
    void goodputCountsRequestsMeetingEveryGivenSloPerSecond() {
        List<RequestRecord> records = List.of(
                ok(0, 100, 10, 500, 40),   // good
                ok(1, 300, 10, 600, 30),   // TTFT misses
                ok(2, 100, 30, 1500, 47),  // TPOT misses
                ok(3, 150, 20, 900, 1),    // good (TPOT at the bound)
                failed(4, "UNAVAILABLE"));  // failed requests are never good
        Slo slo = Slo.parse(List.of("ttft:200", "tpot:20"));
        RunSummary s = RunSummary.of(2, 1, 0, 2.0, records, slo);
        assertEquals(2 / 2.0, s.goodput(), 1e-12);
        assertEquals(4 / 2.0, s.requestThroughput(), 1e-12);
        assertEquals(118 / 2.0, s.outputThroughput(), 1e-12);
        assertEquals(4, s.completed());
        assertEquals(1, s.failed());
        assertEquals(Map.of("UNAVAILABLE", 1), s.errorsByStatus());

        RunSummary e2el = RunSummary.of(2, 1, 0, 2.0, records, Slo.parse(List.of("e2el:1000")));
        assertEquals(3 / 2.0, e2el.goodput(), 1e-12);
        assertTrue(Double.isNaN(RunSummary.of(2, 1, 0, 2.0, records, Slo.NONE).goodput()));
    }

    @Test
    void aRequestWithOneTokenHasNoTpotAndMeetsATpotSlo() {
        RequestRecord one = new RequestRecord(0, 0, 50, Double.NaN, new double[0], 50, 10, 1, 0, "OK", "");
        assertTrue(Slo.parse(List.of("tpot:1")).met(one));
        assertFalse(Slo.parse(List.of("ttft:49")).met(one));
    }

    @Test
    void statisticsAreMeanPopulationStdAndInterpolatedPercentiles() {
        List<RequestRecord> records = new ArrayList<>();
        for (int i = 1; i <= 101; i++) records.add(ok(i, i, 1, i, 2));
        LatencyStats ttft = RunSummary.of(1, 1, 0, 1, records, Slo.NONE).ttft();
        assertEquals(101, ttft.count());
        assertEquals(51, ttft.mean(), 1e-12);
        assertEquals(Math.sqrt((101 * 101 - 1) / 12.0), ttft.std(), 1e-9);
        assertEquals(51, ttft.p50(), 1e-12);
        assertEquals(91, ttft.p90(), 1e-12);
        assertEquals(100, ttft.p99(), 1e-12);
        assertEquals(1.5, LatencyStats.percentile(new double[] {1, 2}, 50), 1e-12);
    }

    @Test
    void sloSyntaxIsCheckedAtTheDoor() {
        assertThrows(IllegalArgumentException.class, () -> Slo.parse(List.of("ttft")));
        assertThrows(IllegalArgumentException.class, () -> Slo.parse(List.of("latency:3")));
        assertThrows(IllegalArgumentException.class, () -> Slo.parse(List.of("tpot:-1")));
        assertEquals("ttft:200 e2el:1500", Slo.parse(List.of("e2el:1500", "TTFT:200")).toString());
    }

    @Test
    void theJsonNamesEveryMeasure() {
        RunSummary s = RunSummary.of(2, 1, 0, 2.0, List.of(ok(0, 100, 10, 500, 40), failed(1, "HTTP 503")),
                Slo.parse(List.of("ttft:200")));
        String json = s.toJson();
        for (String key : List.of("\"rate\":2", "\"completed\":1", "\"failed\":1", "\"errors\":{\"HTTP 503\":1}",
                "\"goodput\":0.5", "\"request_throughput\":0.5", "\"output_throughput\":20", "\"ttft_ms\":{\"mean\":100",
                "\"tpot_ms\"", "\"itl_ms\"", "\"e2el_ms\"", "\"p99\"")) {
            assertTrue(json.contains(key), key + " in " + json);
        }
    }
}
