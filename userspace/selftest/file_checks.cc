// Self-test checks of the file family: each does the syscall its probe
// watches on a file in a fresh directory and checks the event, field by field.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "selftest/check.h"

namespace vigil::selftest {

namespace {

// A directory under /tmp for one check, removed when it ends.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/vigil-selftest-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  bool ok() const { return !path_.empty(); }
  std::string operator/(const char* name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

absl::Status Errno(const std::string& what) { return absl::InternalError(absl::StrCat(what, ": ", strerror(errno))); }

absl::Status Touch(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Errno(absl::StrCat("create ", path));
  close(fd);
  return absl::OkStatus();
}

// Waits for this process's event of `kind` on `path` and checks the syscall
// succeeded; `more` compares the kind's own fields ("" when they match).
absl::Status Expect(EventWaiter& events, v1::EventKind kind, const std::string& path,
                    const std::function<std::string(const v1::File&)>& more = nullptr) {
  const uint32_t self = static_cast<uint32_t>(getpid());
  auto e = events.WaitFor(
      [&](const v1::Event& ev) { return ev.kind() == kind && ev.process().pid() == self && ev.file().path() == path; },
      kEventTimeout);
  if (!e) {
    return absl::NotFoundError(absl::StrCat("no ", v1::EventKind_Name(kind), " event for ", path, " within ",
                                            absl::FormatDuration(kEventTimeout)));
  }
  if (e->file().result() < 0)
    return absl::InternalError(absl::StrCat("result ", e->file().result(), ", expected >= 0"));
  if (more) {
    if (std::string wrong = more(e->file()); !wrong.empty()) return absl::InternalError(wrong);
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Check> FileChecks() {
  return {
      {"open",
       [](EventWaiter& events) -> absl::Status {
         ScratchDir dir;
         if (!dir.ok()) return Errno("mkdtemp");
         const std::string path = dir / "created";
         if (absl::Status s = Touch(path); !s.ok()) return s;
         return Expect(events, v1::EVENT_KIND_FILE_OPEN, path, [](const v1::File& f) -> std::string {
           if ((f.flags() & O_CREAT) == 0) return absl::StrCat("flags ", f.flags(), " lack O_CREAT");
           if (f.mode() != 0600) return absl::StrCat("mode ", f.mode(), ", expected 0600 (384)");
           return "";
         });
       }},
      {"unlink",
       [](EventWaiter& events) -> absl::Status {
         ScratchDir dir;
         if (!dir.ok()) return Errno("mkdtemp");
         const std::string path = dir / "gone";
         if (absl::Status s = Touch(path); !s.ok()) return s;
         if (unlink(path.c_str()) != 0) return Errno("unlink");
         return Expect(events, v1::EVENT_KIND_FILE_UNLINK, path);
       }},
      {"rename",
       [](EventWaiter& events) -> absl::Status {
         ScratchDir dir;
         if (!dir.ok()) return Errno("mkdtemp");
         const std::string from = dir / "from", to = dir / "to";
         if (absl::Status s = Touch(from); !s.ok()) return s;
         if (rename(from.c_str(), to.c_str()) != 0) return Errno("rename");
         return Expect(events, v1::EVENT_KIND_FILE_RENAME, from, [&](const v1::File& f) -> std::string {
           return f.new_path() == to ? "" : absl::StrCat("new_path ", f.new_path(), ", expected ", to);
         });
       }},
      {"chmod",
       [](EventWaiter& events) -> absl::Status {
         ScratchDir dir;
         if (!dir.ok()) return Errno("mkdtemp");
         const std::string path = dir / "mode";
         if (absl::Status s = Touch(path); !s.ok()) return s;
         if (chmod(path.c_str(), 0640) != 0) return Errno("chmod");
         return Expect(events, v1::EVENT_KIND_FILE_CHMOD, path, [](const v1::File& f) -> std::string {
           return f.mode() == 0640 ? "" : absl::StrCat("mode ", f.mode(), ", expected 0640 (416)");
         });
       }},
      {"chown",
       [](EventWaiter& events) -> absl::Status {
         ScratchDir dir;
         if (!dir.ok()) return Errno("mkdtemp");
         const std::string path = dir / "owner";
         if (absl::Status s = Touch(path); !s.ok()) return s;
         // To our own ids: allowed without privilege, and still a chown.
         if (chown(path.c_str(), getuid(), getgid()) != 0) return Errno("chown");
         return Expect(events, v1::EVENT_KIND_FILE_CHOWN, path, [](const v1::File& f) -> std::string {
           if (f.uid() != getuid() || f.gid() != getgid()) {
             return absl::StrCat("uid/gid ", f.uid(), "/", f.gid(), ", expected ", getuid(), "/", getgid());
           }
           return "";
         });
       }},
      {"utimes",
       [](EventWaiter& events) -> absl::Status {
         ScratchDir dir;
         if (!dir.ok()) return Errno("mkdtemp");
         const std::string path = dir / "times";
         if (absl::Status s = Touch(path); !s.ok()) return s;
         if (utimensat(AT_FDCWD, path.c_str(), nullptr, 0) != 0) return Errno("utimensat");
         return Expect(events, v1::EVENT_KIND_FILE_UTIMES, path);
       }},
  };
}

}  // namespace vigil::selftest
