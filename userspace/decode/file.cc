// File family: open, unlink, rename, chmod, chown, utimes.
#include <fcntl.h>

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "decode/abi_names.h"
#include "decode/families.h"
#include "decode/record.h"
#include "vigil_abi.h"

namespace vigil::decode {

namespace {

// Drops "." components and repeated slashes, which the kernel resolves
// without looking; ".." stays, since it depends on symlinks. In place, in the
// reused event's string: the path never grows, and nothing is allocated.
void Normalize(std::string& path) {
  if (path.empty() || path[0] != '/') return;
  const bool dir = path.back() == '/';
  size_t w = 0;  // never past i: each part kept had a '/' before it
  for (size_t i = 0, n = path.size(); i < n;) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t end = path.find('/', i);
    if (end == std::string::npos) end = n;
    if (end - i != 1 || path[i] != '.') {
      path[w++] = '/';
      std::memmove(&path[w], &path[i], end - i);
      w += end - i;
    }
    i = end;
  }
  if (w == 0) {
    w = 1;  // "/" itself
  } else if (dir) {
    path[w++] = '/';
  }
  path.resize(w);
}

void AddOpenFlags(uint32_t flags, v1::File* f) {
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      f->add_open_flags("O_RDONLY");
      break;
    case O_WRONLY:
      f->add_open_flags("O_WRONLY");
      break;
    default:
      f->add_open_flags("O_RDWR");
      break;
  }
  static constexpr std::pair<uint32_t, const char*> kFlags[] = {
      {O_CREAT, "O_CREAT"},         {O_EXCL, "O_EXCL"},
      {O_NOCTTY, "O_NOCTTY"},       {O_TRUNC, "O_TRUNC"},
      {O_APPEND, "O_APPEND"},       {O_NONBLOCK, "O_NONBLOCK"},
      {O_DSYNC, "O_DSYNC"},         {O_DIRECT, "O_DIRECT"},
      {O_DIRECTORY, "O_DIRECTORY"}, {O_NOFOLLOW, "O_NOFOLLOW"},
      {O_NOATIME, "O_NOATIME"},     {O_CLOEXEC, "O_CLOEXEC"},
      {O_PATH, "O_PATH"},           {O_TMPFILE & ~O_DIRECTORY, "O_TMPFILE"},
  };
  for (const auto& [bit, name] : kFlags) {
    if ((flags & bit) == bit) f->add_open_flags(name);
  }
}

}  // namespace

absl::Status DecodeFile(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions& /*options*/,
                        v1::Event& out) {
  if (auto s = ExpectAtLeast<vigil_file>(record, "file"); !s.ok()) return s;
  const auto e = Load<vigil_file>(record);
  if (e.path_len > VIGIL_PATH_MAX || e.path2_len > VIGIL_PATH_MAX ||
      sizeof(vigil_file) + e.path_len + e.path2_len != record.size()) {
    return absl::InvalidArgumentError(absl::StrCat("file record of ", record.size(), " bytes holds path_len ",
                                                   e.path_len, " and path2_len ", e.path2_len));
  }
  const char* op = FileOpName(e.op);
  if (op == nullptr) return absl::InvalidArgumentError(absl::StrCat("file record has unknown syscall ", e.op));
  if (FileOpKind(e.op) != kind) {
    return absl::InvalidArgumentError(absl::StrCat(KernelKindName(kind), " record names syscall ", op));
  }
  const char* path = reinterpret_cast<const char*>(record.data() + sizeof(vigil_file));

  out.set_kind(static_cast<v1::EventKind>(kind));
  v1::File* f = out.mutable_file();
  AssignUtf8(CString(path, e.path_len), *f->mutable_path());
  Normalize(*f->mutable_path());
  if (e.path2_len > 0) {
    AssignUtf8(CString(path + e.path_len, e.path2_len), *f->mutable_new_path());
    Normalize(*f->mutable_new_path());
  }
  f->set_syscall(op);
  f->set_result(e.result);
  // Errors are -1..-4095 (MAX_ERRNO); below that the record is corrupt, and
  // negating INT64_MIN would overflow.
  if (e.result < 0 && e.result >= -4095) {
    const char* name = strerrorname_np(static_cast<int>(-e.result));
    f->set_error(name != nullptr ? name : absl::StrCat("errno ", -e.result));
  }
  f->set_flags(e.flags);
  f->set_sensitive((e.vflags & VIGIL_FILE_SENSITIVE) != 0);
  f->set_path_truncated((e.vflags & (VIGIL_FILE_PATH_TRUNCATED | VIGIL_FILE_PATH2_TRUNCATED)) != 0);
  switch (kind) {
    case VIGIL_KIND_FILE_OPEN:
      if (kind == VIGIL_KIND_FILE_OPEN) AddOpenFlags(e.flags, f);
      if ((e.flags & O_CREAT) != 0 || (e.flags & O_TMPFILE) == O_TMPFILE) f->set_mode(e.mode);
      break;
    case VIGIL_KIND_FILE_CHMOD:
      f->set_mode(e.mode);
      break;
    case VIGIL_KIND_FILE_CHOWN:
      if (e.uid != VIGIL_FILE_ID_UNCHANGED) f->set_uid(e.uid);
      if (e.gid != VIGIL_FILE_ID_UNCHANGED) f->set_gid(e.gid);
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

}  // namespace vigil::decode
