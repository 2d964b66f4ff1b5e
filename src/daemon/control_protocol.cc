#include "daemon/control_protocol.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/runtime_dir.h"

namespace umd::daemon {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : left > 1'000'000 ? 1'000'000 : int(left);
}

// poll() one fd for events until the deadline; Err::retry on timeout.
Status wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    struct pollfd p = {fd, events, 0};
    int r = ::poll(&p, 1, ms_left(deadline));
    if (r > 0) return Status::ok();
    if (r == 0) return Status(Err::retry, "timed out waiting for the daemon");
    if (errno != EINTR) return Status::from_errno(errno, "poll");
  }
}

}  // namespace

std::string encode_message(const json& msg) {
  // Replace invalid UTF-8 rather than throw: a member path may hold any bytes.
  return msg.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<json> decode_message(std::string_view line) {
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Result<json>(Err::invalid, "message is not valid JSON");
  if (!j.is_object()) return Result<json>(Err::invalid, "message is not a JSON object");
  return j;
}

json ok_response(json fields) {
  if (!fields.is_object()) fields = json::object();
  fields["ok"] = true;
  return fields;
}

json error_response(const std::string& message) { return json{{"ok", false}, {"error", message}}; }

Result<json> response_result(const json& response) {
  auto ok = response.find("ok");
  if (ok == response.end() || !ok->is_boolean()) {
    return Result<json>(Err::corrupt, "the daemon's response has no \"ok\" field");
  }
  if (ok->get<bool>()) return response;
  auto err = response.find("error");
  std::string msg = err != response.end() && err->is_string() ? err->get<std::string>() : "request failed";
  return Result<json>(Err::invalid, msg);
}

Status read_line(int fd, std::string* pending, std::string* line, Clock::time_point deadline) {
  for (;;) {
    size_t nl = pending->find('\n');
    if (nl != std::string::npos) {
      if (nl > kMaxLine) return Status(Err::invalid, "control message longer than " + std::to_string(kMaxLine) + " bytes");
      line->assign(*pending, 0, nl);
      pending->erase(0, nl + 1);
      return Status::ok();
    }
    if (pending->size() > kMaxLine) {
      return Status(Err::invalid, "control message longer than " + std::to_string(kMaxLine) + " bytes");
    }
    UMD_TRY(wait_fd(fd, POLLIN, deadline));
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::from_errno(errno, "reading control socket");
    }
    if (n == 0) return Status(Err::not_found, "the connection closed before a full message");
    pending->append(buf, size_t(n));
  }
}

Status write_all(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        UMD_TRY(wait_fd(fd, POLLOUT, deadline));
        continue;
      }
      return Status::from_errno(errno, "writing control socket");
    }
    data.remove_prefix(size_t(n));
  }
  return Status::ok();
}

Result<json> control_call_socket(const std::string& socket_path, const json& request,
                                 std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return Result<json>(Err::invalid, "control socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::from_errno(errno, "creating a socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    if (e == ENOENT || e == ECONNREFUSED) {
      return Result<json>(Err::not_found, "nothing listens on " + socket_path);
    }
    return Status::from_errno(e, "connecting to " + socket_path);
  }
  Status s = write_all(fd, encode_message(request), deadline);
  std::string pending, line;
  if (s.is_ok()) s = read_line(fd, &pending, &line, deadline);
  ::close(fd);
  if (!s.is_ok()) return s.with_context("control request to " + socket_path);
  return decode_message(line);
}

Result<json> control_call(const std::string& name, const json& request, std::chrono::milliseconds timeout) {
  UMD_TRY(check_array_name(name));
  auto r = control_call_socket(runtime_dir_of(name) + "/control", request, timeout);
  if (!r.is_ok()) {
    if (r.status().code() == Err::not_found) return Result<json>(Err::not_found, name + " is not assembled");
    return r.status();
  }
  return response_result(*r);
}

}  // namespace umd::daemon
