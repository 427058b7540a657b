package dev.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.ModelSpec;
import dev.tessera.gateway.TesseraServer;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.text.TextConfig;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code generate --image} against a real server on loopback serving {@code builtin:vlm-tiny} (random weights, so
 * the text is gibberish and only its form is checked): the image and the prompt go as one chat message, and the
 * image's placeholder tokens count as prompt tokens (a 224 x 224 image is 64 of them).
 */
@Timeout(300)
class GenerateImageCommandTest {
    @TempDir
    static Path cache;
    private static TesseraServer server;

    @BeforeAll
    static void start() {
        Path dir = new ModelRef("builtin:vlm-tiny").resolve(cache);
        TextEngineOptions engine = TextEngineOptions.defaults(dir).withName("vlm-tiny").withCacheDir(cache)
                .withThreads(2).withKvMemoryBytes(32L << 20).withMaxModelLen(1024);
        server = TesseraServer.start(GatewayOptions.defaults().withHost("127.0.0.1").withPort(0),
                List.of(new ModelSpec.Text(engine, TextConfig.defaults())), Scheduler.builder());
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    static int promptTokens(String err) {
        Matcher m = Pattern.compile("(\\d+) prompt \\+ (\\d+) completion").matcher(err);
        assertTrue(m.find(), err);
        return Integer.parseInt(m.group(1));
    }

    @Test
    void sendsTheImageAndThePromptAsOneChatMessage(@TempDir Path tmp) throws Exception {
        BufferedImage img = new BufferedImage(224, 224, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(new Color(30, 120, 200));
        g.fillRect(0, 0, 224, 224);
        g.setColor(Color.ORANGE);
        g.fillOval(40, 60, 120, 90);
        g.dispose();
        Path png = tmp.resolve("scene.png");
        ImageIO.write(img, "png", png.toFile());
        String port = String.valueOf(server.gateway().port());

        DetectCommandTest.Run withImage = DetectCommandTest.run("generate", "--port", port, "--image", png.toString(),
                "--prompt", "What is in this picture?", "--max-tokens", "8", "--ignore-eos");
        assertEquals(0, withImage.exit(), withImage.err());
        assertTrue(withImage.err().contains("8 completion tokens"), withImage.err());
        DetectCommandTest.Run textOnly = DetectCommandTest.run("generate", "--port", port, "--model", "vlm-tiny",
                "--prompt", "What is in this picture?", "--max-tokens", "8", "--ignore-eos");
        assertEquals(0, textOnly.exit(), textOnly.err());
        // 224 x 224 pixels = 16 x 16 patches = 64 tokens after the 2 x 2 merge, plus the template's tokens
        assertTrue(promptTokens(withImage.err()) >= 64 + 3, withImage.err());

        DetectCommandTest.Run corrupt = DetectCommandTest.run("generate", "--port", port, "--image",
                tmp.resolve("missing.png").toString(), "--prompt", "x");
        assertTrue(corrupt.exit() != 0, corrupt.err());
    }
}
