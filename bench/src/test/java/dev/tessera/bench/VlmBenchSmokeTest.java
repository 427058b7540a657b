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

/** The vlm benchmark stays runnable: a small workload on builtin:vlm-tiny prints the documented JSON. */
@Timeout(600)
class VlmBenchSmokeTest {
    @Test
    void printsOneJsonObjectWithTheDocumentedFields() throws Exception {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            exit = VlmBench.run("--json", "--model", "builtin:vlm-tiny", "--requests", "3", "--output", "4",
                    "--trials", "1", "--threads", "2");
        } finally {
            System.setOut(saved);
        }
        assertEquals(0, exit);
        String[] lines = buf.toString(StandardCharsets.UTF_8).trim().split("\n");
        JsonNode json = new ObjectMapper().readTree(lines[lines.length - 1]);
        JsonNode encoder = json.get("encoder");
        for (String f : new String[] {"packed_ms", "padded_ms", "ratio"}) {
            assertTrue(encoder.get(f).asDouble() > 0, f + " in " + json);
        }
        assertEquals(encoder.get("patches_needed").asLong(), encoder.get("patches_computed").asLong(),
                "packed: nothing padded");
        assertTrue(encoder.get("padded_patches_computed").asLong() >= encoder.get("patches_needed").asLong());
        assertTrue(json.get("encoder_cache").get("ttft_ratio").asDouble() > 0, json.toString());
        assertTrue(json.get("encoder_cache").get("cache_hits").asLong() > 0, "the repeated image was cached");
        JsonNode generate = json.get("generate");
        for (String f : new String[] {"continuous_tokens_per_s", "sequential_tokens_per_s", "ratio"}) {
            assertTrue(generate.get(f).asDouble() > 0, f + " in " + json);
        }
    }
}
