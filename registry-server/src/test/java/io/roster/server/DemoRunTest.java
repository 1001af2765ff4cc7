package io.roster.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class DemoRunTest {
  @Test
  void theDemoTellsTheWholeStoryAndExitsZero() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int exit = new DemoRun(new PrintStream(bytes, true, StandardCharsets.UTF_8)).run();
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertThat(exit).as(out).isZero();
    assertThat(out)
        .contains("ready in", "already registered to", "ns per lookup", "whereisConsistent(mailer)")
        .contains("new leader:", "first write committed", "removed", "back in", "c1  register(cache)")
        .contains("call(cache, \"user:42\") -> \"c1 has user:42\"")
        .contains("done: every node stopped.");
  }
}
