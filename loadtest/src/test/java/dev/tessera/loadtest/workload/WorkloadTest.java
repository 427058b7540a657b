package dev.tessera.loadtest.workload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Length distributions, synthetic prompts and JSONL requests. */
class WorkloadTest {
    @Test
    void lengthsParseAsFixedUniformOrNormal() {
        assertEquals(new LengthDistribution.Fixed(128), LengthDistribution.parse("128"));
        assertEquals(new LengthDistribution.Uniform(16, 64), LengthDistribution.parse("16:64"));
        assertEquals(new LengthDistribution.Normal(100, 10), LengthDistribution.parse("normal:100:10"));
        assertThrows(IllegalArgumentException.class, () -> LengthDistribution.parse("64:16"));
        assertThrows(IllegalArgumentException.class, () -> LengthDistribution.parse("lognormal:1:2"));
        Random rng = new Random(3);
        LengthDistribution u = LengthDistribution.parse("3:5");
        for (int i = 0; i < 1000; i++) {
            int n = u.sample(rng);
            assertTrue(n >= 3 && n <= 5, "uniform 3:5 drew " + n);
        }
    }

    @Test
    void syntheticPromptsHaveTheDrawnWordCountAndOutputLength() {
        SyntheticWorkload w = new SyntheticWorkload(new LengthDistribution.Fixed(12), new LengthDistribution.Fixed(7), 5);
        LoadRequest r = w.next();
        assertEquals(12, r.prompt().split(" ").length);
        assertEquals(12, r.inputLength());
        assertEquals(7, r.maxTokens());
        assertTrue(r.ignoreEos());
        SyntheticWorkload same = new SyntheticWorkload(new LengthDistribution.Fixed(12),
                new LengthDistribution.Fixed(7), 5);
        assertEquals(r, same.next());
    }

    @Test
    void jsonlLinesArePromptsOrChatsAndCycle(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("requests.jsonl");
        Files.writeString(file, "{\"prompt\": \"Once upon a time\", \"max_tokens\": 16}\n\n"
                + "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\","
                + " \"content\": [{\"type\": \"text\", \"text\": \"Hi \"}, {\"type\": \"text\", \"text\": \"there\"}]}]}\n");
        JsonlWorkload w = JsonlWorkload.read(file, 32);
        assertEquals(2, w.size());
        LoadRequest a = w.next();
        assertEquals("Once upon a time", a.prompt());
        assertEquals(16, a.maxTokens());
        LoadRequest b = w.next();
        assertNull(b.prompt());
        assertEquals(32, b.maxTokens());
        assertEquals(List.of(new LoadRequest.Message("system", "Be brief."), new LoadRequest.Message("user", "Hi there")),
                b.messages());
        assertEquals(a, w.next());
    }

    @Test
    void jsonlImagePartsAreDataUrls(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("images.jsonl");
        Files.writeString(file, "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\","
                + " \"image_url\": {\"url\": \"data:image/jpeg;base64,AQID\"}}, {\"type\": \"text\", \"text\": \"What?\"}]}],"
                + " \"max_tokens\": 5}\n");
        LoadRequest r = JsonlWorkload.read(file, 8).next();
        LoadRequest.Message m = r.messages().get(0);
        assertEquals("What?", m.content());
        assertEquals("image/jpeg", m.images().get(0).mediaType());
        assertEquals("AQID", m.images().get(0).base64());
    }

    @Test
    void syntheticRequestsWithImagesAreUserChats() {
        ChatImage png = ChatImage.of(new byte[] {9}, "image/png");
        LoadRequest r = new SyntheticWorkload(new LengthDistribution.Fixed(3), new LengthDistribution.Fixed(2),
                List.of(png), 1).next();
        assertNull(r.prompt());
        assertEquals("user", r.messages().get(0).role());
        assertEquals(List.of(png), r.messages().get(0).images());
        assertEquals(3, r.messages().get(0).content().split(" ").length);
    }

    @Test
    void aBadJsonlLineNamesItsLine(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, "{\"prompt\": \"ok\"}\n{\"max_tokens\": 3}\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonlWorkload.read(file, 8));
        assertTrue(e.getMessage().contains("bad.jsonl:2"), e.getMessage());
        Files.writeString(file, "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\","
                + " \"image_url\": {\"url\": \"https://example.com/a.png\"}}]}]}\n");
        e = assertThrows(IllegalArgumentException.class, () -> JsonlWorkload.read(file, 8));
        assertTrue(e.getMessage().contains("data: URL"), e.getMessage());
    }
}
