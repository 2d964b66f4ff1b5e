#include "daemon/serve_spec.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace umd::daemon {
namespace {

TEST(ServeSpecTest, UnixPathIsMadeAbsolute) {
  auto s = parse_serve_spec("nbd:unix:/tmp/x/../a.sock");
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->kind, ServeSpec::Kind::nbd_unix);
  EXPECT_EQ(s->path, "/tmp/a.sock");
  EXPECT_EQ(s->uri("md0", 0), "nbd+unix:///md0?socket=/tmp/a.sock");
  auto rel = parse_serve_spec("nbd:unix:rel.sock");
  ASSERT_TRUE(rel.is_ok());
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(rel->path, std::string(cwd) + "/rel.sock");
}

TEST(ServeSpecTest, TcpHostAndPort) {
  auto s = parse_serve_spec("nbd:tcp:127.0.0.1:10809");
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->kind, ServeSpec::Kind::nbd_tcp);
  EXPECT_EQ(s->host, "127.0.0.1");
  EXPECT_EQ(s->port, 10809);
  EXPECT_EQ(s->uri("md0", 10809), "nbd://127.0.0.1:10809/md0");
  auto v6 = parse_serve_spec("nbd:tcp:[::1]:0");
  ASSERT_TRUE(v6.is_ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_EQ(v6->uri("md0", 4000), "nbd://[::1]:4000/md0");
  EXPECT_TRUE(parse_serve_spec("nbd:tcp:localhost:65535").is_ok());
}

TEST(ServeSpecTest, BadSpecsNameThemselves) {
  for (const char* bad : {"nbd:unix:", "nbd:tcp:host", "nbd:tcp::10809", "nbd:tcp:h:65536", "nbd:tcp:h:x1",
                          "nbd:tcp:::1:5", "fuse:/mnt", "nbd", "", "nbd:tcp:h:"}) {
    auto s = parse_serve_spec(bad);
    ASSERT_FALSE(s.is_ok()) << bad;
    EXPECT_EQ(s.status().code(), Err::invalid);
    EXPECT_NE(s.status().message().find(std::string("\"") + bad + "\""), std::string::npos)
        << s.status().message();
  }
}

}  // namespace
}  // namespace umd::daemon
