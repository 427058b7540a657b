package dev.tessera.scheduler.diffuse;

import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobFailure;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Diffusion jobs through the assembled serving core: input threads, the loop, output threads. */
class DiffuseServiceTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @Test
    void aJobStreamsPreviewsThenAPngImageWithItsSeedThenFinished() throws IOException {
        Scheduler s = Scheduler.builder().diffusion(new FakePipeline(), DiffuseConfig.DEFAULTS).build().start();
        try {
            DiffuseRequest r = new DiffuseRequest("", "a fox", "blurry", 64, 128, 6, 7.5f, "dpmpp_2m", 1234L, 2,
                    2, null, null, null, null);
            List<JobEvent> events = s.diffuse(r).collectList().block(TIMEOUT);
            assertNotNull(events);
            long previews = events.stream().filter(e -> e instanceof JobEvent.Preview).count();
            assertEquals(4, previews, "steps 2 and 4, two images each");
            List<JobEvent.Image> images = events.stream().filter(e -> e instanceof JobEvent.Image)
                    .map(e -> (JobEvent.Image) e).toList();
            assertEquals(2, images.size());
            BufferedImage png = ImageIO.read(new ByteArrayInputStream(images.get(1).image().data()));
            assertEquals(64, png.getWidth());
            assertEquals(128, png.getHeight());
            assertEquals(1234L, images.get(1).seed());
            assertInstanceOf(JobEvent.Finished.class, events.get(events.size() - 1));
            assertTrue(s.awaitIdle(TIMEOUT));
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        } finally {
            s.close();
        }
    }

    @Test
    void aBadFieldIsAnErrorEventNamingIt() {
        Scheduler s = Scheduler.builder().diffusion(new FakePipeline(), DiffuseConfig.DEFAULTS).build().start();
        try {
            List<JobEvent> events = s.diffuse(new DiffuseRequest("", "p", "", 100, null, null, null, null, null, 0,
                    null, null, null, null, null)).collectList().block(TIMEOUT);
            JobEvent.Error e = assertInstanceOf(JobEvent.Error.class, events.get(0));
            assertEquals(JobFailure.Code.INVALID_ARGUMENT, e.failure().code());
            assertEquals("width", e.failure().field());
            List<JobEvent> other = s.diffuse(new DiffuseRequest("nope", "p", "", null, null, null, null, null, null,
                    0, null, null, null, null, null)).collectList().block(TIMEOUT);
            assertInstanceOf(JobEvent.Error.class, other.get(0));
        } finally {
            s.close();
        }
    }
}
