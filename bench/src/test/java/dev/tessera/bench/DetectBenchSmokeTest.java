package dev.tessera.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The detect benchmark stays runnable: a tiny workload on builtin:detr-tiny prints the documented JSON. */
@Timeout(300)
class DetectBenchSmokeTest {
    @Test
    void printsOneJsonObjectWithTheDocumentedFields() throws Exception {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            exit = DetectBench.run("--json", "--model", "builtin:detr-tiny", "--streams", "4", "--frames", "2",
                    "--rounds", "1", "--sizes", "96x64,64x96,120x90", "--overload-seconds", "1", "--threads", "2");
        } finally {
            System.setOut(saved);
        }
        assertEquals(0, exit);
        String[] lines = buf.toString(StandardCharsets.UTF_8).trim().split("\n");
        JsonNode json = new ObjectMapper().readTree(lines[lines.length - 1]);

        for (String policy : new String[] {"batched", "batch1"}) {
            JsonNode p = json.get("policies").get(policy);
            assertTrue(p.get("frames_per_s").asDouble() > 0, json.toString());
            assertTrue(p.get("latency_ms").has("p50") && p.get("latency_ms").has("p99"), json.toString());
            assertEquals(4 * 2, p.get("frames").asInt(), "every frame of every stream answered: " + json);
            assertTrue(p.get("time_ms_per_frame").has("backbone"), json.toString());
        }
        assertEquals(1.0, json.get("policies").get("batch1").get("mean_frames_per_step").asDouble(),
                "batch1 runs one frame per step");
        assertTrue(json.get("ratio").asDouble() > 0);
        JsonNode tokens = json.get("tokens");
        assertTrue(tokens.get("needed").asLong() > 0);
        assertEquals(tokens.get("needed").asLong(), tokens.get("computed").asLong(), "nothing padded");
        JsonNode overload = json.get("overload");
        for (String field : new String[] {"skipped", "answered", "step_ms_p50", "offered"}) {
            assertTrue(overload.has(field), field + " in " + overload);
        }
        assertTrue(overload.get("frame_age_ms").has("p50") && overload.get("frame_age_ms").has("p99"));
        assertTrue(overload.get("answered").asLong() > 0);
        assertEquals(overload.get("offered").asLong(), overload.get("answered").asLong()
                + overload.get("skipped").asLong(), "every offered frame is answered or counted as skipped");
    }
}
