package dev.tessera.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The generate benchmark stays runnable: a very small workload on the tiny model prints the JSON fields. */
class GenerateBenchSmokeTest {
    @Test
    void printsOneJsonObjectWithTheDocumentedFields() throws Exception {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            GenerateBench.main(new String[] {"--json", "--model", "builtin:tiny", "--requests", "4", "--prompt",
                "8:40", "--output", "3:6", "--prefix-len", "64", "--trials", "1", "--overhead-tokens", "3",
                "--max-seqs", "32", "--kv-mib", "32", "--threads", "2", "--max-batch-tokens", "64"});
        } finally {
            System.setOut(saved);
        }
        String[] lines = buf.toString(StandardCharsets.UTF_8).trim().split("\n");
        String json = lines[lines.length - 1];
        for (String field : new String[] {"\"continuous\":{\"output_tokens_per_s\":", "\"static\":",
            "\"sequential\":", "\"ttft_ms\":{\"p50\":", "\"itl_ms\":{\"p50\":", "\"tokens_computed\":",
            "\"tokens_needed\":", "\"kv\":{\"peak_blocks\":", "\"waste_fraction\":", "\"prefix_cache\":{\"ttft_ratio\":",
            "\"overhead_fraction\":", "\"workload\":"}) {
            assertTrue(json.contains(field), field + " in " + json);
        }
        assertTrue(json.startsWith("{") && json.endsWith("}"));
    }
}
