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

/** The diffuse benchmark stays runnable: a tiny workload on builtin:sd-tiny prints the documented JSON. */
@Timeout(300)
class DiffuseBenchSmokeTest {
    @Test
    void printsOneJsonObjectWithTheDocumentedFields() throws Exception {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            exit = DiffuseBench.run("--json", "--model", "builtin:sd-tiny", "--sizes", "64x64,96x64", "--jobs", "3",
                    "--steps", "2", "--rounds", "1", "--stagger-ms", "0", "--threads", "2", "--profile-rows", "1,2");
        } finally {
            System.setOut(saved);
        }
        assertEquals(0, exit);
        String[] lines = buf.toString(StandardCharsets.UTF_8).trim().split("\n");
        JsonNode json = new ObjectMapper().readTree(lines[lines.length - 1]);
        for (String policy : new String[] {"batched", "sequential"}) {
            JsonNode p = json.get("policies").get(policy);
            assertTrue(p.get("images_per_s").asDouble() > 0, json.toString());
            assertTrue(p.get("latency_ms").has("p50") && p.get("latency_ms").has("p99"), json.toString());
        }
        assertTrue(json.get("policies").get("batched").get("rows_per_step_mean").asDouble() >= 1);
        assertTrue(json.get("ratio").asDouble() > 0);
        JsonNode rows = json.get("rows");
        assertTrue(rows.get("needed").asLong() > 0);
        assertEquals(rows.get("needed").asLong(), rows.get("computed").asLong(), "nothing padded");
        assertTrue(json.has("preview_overhead_fraction"));
        JsonNode profile = json.get("unet_profile");
        assertEquals(4, profile.size(), "two sizes x two row counts: " + profile);
        for (JsonNode point : profile) assertTrue(point.get("ms").asDouble() > 0, point.toString());
    }
}
