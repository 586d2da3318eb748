/* safetensors reader: an 8-byte little-endian header length, a JSON header
 * (validated whole, as the reference implementation does), then the data
 * of every tensor, contiguous, in the order of their offsets. */
#include "common.h"
#include "array_int.h"
#include "json.h"

#define ST_MAX_HEADER 100000000u /* the reference implementation's limit */

struct st_dtype {
	const char *name;
	size_t size;
	int dtype; /* rq_dtype, or -1 when we do not read it */
};

static const struct st_dtype st_dtypes[] = {
	{ "F16", 2, RQ_DT_F16 },  { "BF16", 2, RQ_DT_BF16 }, { "F32", 4, RQ_DT_F32 },
	{ "F64", 8, RQ_DT_F64 },  { "I8", 1, RQ_DT_I8 },     { "I16", 2, RQ_DT_I16 },
	{ "I32", 4, RQ_DT_I32 },  { "I64", 8, RQ_DT_I64 },   { "U8", 1, RQ_DT_U8 },
	{ "U16", 2, RQ_DT_U16 },  { "U32", 4, RQ_DT_U32 },   { "U64", 8, RQ_DT_U64 },
	{ "BOOL", 1, RQ_DT_BOOL }, { "F8_E4M3", 1, -1 },      { "F8_E5M2", 1, -1 },
};

struct st_tensor {
	const char *name; /* borrowed from the JSON tree */
	const struct st_dtype *dt;
	size_t dims[8];
	int ndim;
	size_t begin, end;
};

static int tensor_cmp(const void *x, const void *y)
{
	const struct st_tensor *a = x, *b = y;
	if (a->begin != b->begin)
		return a->begin < b->begin ? -1 : 1;
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int name_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Non-negative JSON integer as size_t. */
static bool get_size(const json_t *v, size_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (size_t)json_integer_value(v);
	return (json_int_t)*out == json_integer_value(v);
}

static int parse_tensor(const char *path, const char *name, const json_t *info,
			size_t data_len, struct st_tensor *t)
{
	const json_t *dtype = json_object_get(info, "dtype");
	const json_t *shape = json_object_get(info, "shape");
	const json_t *offs = json_object_get(info, "data_offsets");
	size_t nbytes, i;

	t->name = name;
	if (!json_is_object(info))
		return rq_error_set(RQ_EINVALID, "%s: tensor '%s' is not described by an object",
				    path, name);
	if (!json_is_string(dtype))
		return rq_error_set(RQ_EINVALID, "%s: tensor '%s' has no dtype", path, name);
	t->dt = NULL;
	for (i = 0; i < RQ_ARRAY_SIZE(st_dtypes); i++)
		if (!strcmp(json_string_value(dtype), st_dtypes[i].name))
			t->dt = &st_dtypes[i];
	if (!t->dt)
		return rq_error_set(RQ_EINVALID, "%s: tensor '%s' has unknown dtype '%s'", path,
				    name, json_string_value(dtype));
	if (!json_is_array(shape))
		return rq_error_set(RQ_EINVALID, "%s: tensor '%s' has no shape array", path, name);
	if (json_array_size(shape) > RQ_ARRAY_SIZE(t->dims))
		return rq_error_set(RQ_EINVALID, "%s: tensor '%s' has %zu dimensions", path,
				    name, json_array_size(shape));
	t->ndim = (int)json_array_size(shape);
	nbytes = t->dt->size;
	for (i = 0; i < json_array_size(shape); i++) {
		if (!get_size(json_array_get(shape, i), &t->dims[i]))
			return rq_error_set(RQ_EINVALID, "%s: tensor '%s': dimension %zu of its "
					    "shape is not a non-negative integer", path, name, i);
		if (!rq_mul_size(&nbytes, nbytes, t->dims[i]))
			return rq_error_set(RQ_EINVALID, "%s: tensor '%s': shape is too large",
					    path, name);
	}
	if (!json_is_array(offs) || json_array_size(offs) != 2 ||
	    !get_size(json_array_get(offs, 0), &t->begin) ||
	    !get_size(json_array_get(offs, 1), &t->end))
		return rq_error_set(RQ_EINVALID, "%s: tensor '%s': data_offsets must be two "
				    "non-negative integers", path, name);
	if (t->begin > t->end || t->end > data_len)
		return rq_error_set(RQ_EINVALID, "%s: tensor '%s': data_offsets [%zu, %zu] lie "
				    "outside the %zu data bytes", path, name, t->begin, t->end,
				    data_len);
	if (t->end - t->begin != nbytes)
		return rq_error_set(RQ_EINVALID, "%s: tensor '%s' (%s, %zu dimensions) needs %zu "
				    "bytes but its data_offsets [%zu, %zu] span %zu", path, name,
				    t->dt->name, (size_t)t->ndim, nbytes, t->begin, t->end,
				    t->end - t->begin);
	return 0;
}

static void list_names(rq_buf *out, const struct st_tensor *ts, size_t n)
{
	const char **names = rq_xmallocarray(n ? n : 1, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = ts[i].name;
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++)
		rq_buf_printf(out, "%s%s", i ? ", " : "", names[i]);
	free(names);
}

/* The reference implementation's rule: tensors tile the data exactly.
 * Sorts `ts` by offset. */
static int check_tiling(struct st_tensor *ts, size_t n, size_t data_len, const char *name)
{
	size_t pos = 0;

	qsort(ts, n, sizeof(*ts), tensor_cmp);
	for (size_t i = 0; i < n; i++) {
		if (ts[i].begin < pos)
			return rq_error_set(RQ_EINVALID, "%s: tensors '%s' and '%s' overlap", name,
					    ts[i - 1].name, ts[i].name);
		if (ts[i].begin > pos)
			return rq_error_set(RQ_EINVALID, "%s: %zu unused bytes before tensor '%s'",
					    name, ts[i].begin - pos, ts[i].name);
		pos = ts[i].end;
	}
	if (pos != data_len)
		return rq_error_set(RQ_EINVALID, "%s: %zu bytes after the last tensor's data",
				    name, data_len - pos);
	return 0;
}

/* The tensor named `tensor`, or the only one when `tensor` is NULL. */
static int pick_tensor(struct st_tensor **out, struct st_tensor *ts, size_t n, const char *tensor,
		       const char *name)
{
	rq_buf names = RQ_BUF_INIT;
	int err = 0;

	*out = NULL;
	list_names(&names, ts, n);
	if (n == 0) {
		err = rq_error_set(RQ_EINVALID, "%s: holds no tensors", name);
		goto done;
	}
	for (size_t i = 0; i < n && tensor; i++)
		if (!strcmp(ts[i].name, tensor))
			*out = &ts[i];
	if (!tensor && n == 1)
		*out = &ts[0];
	if (*out)
		goto done;
	if (tensor)
		err = rq_error_set(RQ_ENOTFOUND, "%s: no tensor '%s' (it holds: %s)", name, tensor, names.ptr);
	else
		err = rq_error_set(RQ_EINVALID, "%s: holds %zu tensors (%s); choose one "
				   "with --tensor NAME", name, n, names.ptr);
done:
	rq_buf_release(&names);
	return err;
}

int rq_safetensors_parse(rq_array *a, const uint8_t *buf, size_t len, const char *tensor)
{
	json_t *root = NULL;
	struct st_tensor *ts = NULL, *pick = NULL;
	const char *key;
	json_t *val;
	uint64_t hlen = 0;
	size_t n = 0, data_len;
	int err = 0;

	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | buf[i];
	if (hlen > len - 8) {
		err = rq_error_set(RQ_EINVALID, "%s: safetensors header of %" PRIu64 " bytes runs "
				   "past the end of the file (%zu bytes)", a->name, hlen, len);
		goto done;
	}
	if (hlen > ST_MAX_HEADER) {
		err = rq_error_set(RQ_EINVALID, "%s: safetensors header of %" PRIu64 " bytes "
				   "exceeds the limit of %u", a->name, hlen, ST_MAX_HEADER);
		goto done;
	}
	if ((err = rq_json_parse(&root, (const char *)buf + 8, (size_t)hlen, a->name)))
		goto done;
	if (!json_is_object(root)) {
		err = rq_error_set(RQ_EINVALID, "%s: safetensors header is not a JSON object",
				   a->name);
		goto done;
	}
	data_len = len - 8 - (size_t)hlen;
	ts = rq_xcalloc(json_object_size(root) + 1, sizeof(*ts));
	json_object_foreach(root, key, val) {
		if (!strcmp(key, "__metadata__"))
			continue;
		if ((err = parse_tensor(a->name, key, val, data_len, &ts[n])))
			goto done;
		n++;
	}
	if ((err = check_tiling(ts, n, data_len, a->name)) ||
	    (err = pick_tensor(&pick, ts, n, tensor, a->name)))
		goto done;
	if (pick->dt->dtype < 0) {
		err = rq_error_set(RQ_EINVALID, "%s: tensor '%s': dtype %s is not supported",
				   a->name, pick->name, pick->dt->name);
		goto done;
	}
	a->tensor = rq_xstrdup(pick->name);
	a->dtype = (rq_dtype)pick->dt->dtype;
	a->itemsize = pick->dt->size;
	a->swap = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
	a->fortran = false;
	a->data = buf + 8 + (size_t)hlen + pick->begin;
	a->data_len = pick->end - pick->begin;
	err = rq_array_set_shape(a, pick->dims, pick->ndim);
done:
	json_decref(root);
	free(ts);
	return err;
}

int rq_safetensors_names(char ***out, size_t *n, const uint8_t *buf, size_t len, const char *name)
{
	json_t *root = NULL;
	const char *key;
	json_t *val;
	char **v = NULL;
	size_t count = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (len < 8)
		return rq_error_set(RQ_EINVALID, "%s: not a safetensors file", name);
	if ((err = rq_json_parse(&root, (const char *)buf + 8, len - 8, name)))
		return err;
	if (!json_is_object(root)) {
		json_decref(root);
		return rq_error_set(RQ_EINVALID, "%s: safetensors header is not a JSON object", name);
	}
	v = rq_xcalloc(json_object_size(root) + 1, sizeof(*v));
	json_object_foreach(root, key, val) {
		if (strcmp(key, "__metadata__") != 0)
			v[count++] = rq_xstrdup(key);
	}
	qsort(v, count, sizeof(*v), name_cmp);
	json_decref(root);
	*out = v;
	*n = count;
	return 0;
}

/* The first member's name of a zip archive (its local file header: name
 * length at offset 26, extra length at 28, name at 30), "" when cut short. */
static void zip_first_name(char *out, size_t outlen, const uint8_t *buf, size_t len)
{
	size_t n = len >= 30 ? (size_t)buf[26] | (size_t)buf[27] << 8 : 0;
	if (n > len - 30 || n >= outlen)
		n = 0;
	memcpy(out, buf + 30, n);
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (out[i] < 0x20 || out[i] > 0x7e)
			out[i] = '?';
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

#define SAVE_WEIGHTS "save the weights with safetensors instead: resque.torch.save_weights(model, PATH) " \
		     "or safetensors.torch.save_file(model.state_dict(), PATH)"

int rq_array_foreign(const uint8_t *buf, size_t len, const char *name, bool weights)
{
	const char *save = weights ? SAVE_WEIGHTS : "save the array with numpy.save or safetensors instead";
	char first[80];

	if (len >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0) {
		/* torch.save writes "ARCHIVE/data.pkl", "ARCHIVE/byteorder"...;
		 * numpy.savez writes "NAME.npy" members */
		zip_first_name(first, sizeof(first), buf, len);
		if (strchr(first, '/') && (ends_with(first, ".pkl") || ends_with(first, "/byteorder") ||
					   ends_with(first, "/version") || ends_with(first, "/.format_version")))
			return rq_error_set(RQ_EINVALID, "%s: a PyTorch checkpoint (torch.save, a zip archive), "
					    "not a %s file; %s", name, weights ? "safetensors" : ".npy or safetensors", save);
		if (ends_with(first, ".npy"))
			return rq_error_set(RQ_EINVALID, "%s: a NumPy .npz archive, not a %s file; %s", name,
					    weights ? "safetensors" : ".npy or safetensors",
					    weights ? SAVE_WEIGHTS : "save each array with numpy.save");
		return rq_error_set(RQ_EINVALID, "%s: a zip archive (a PyTorch checkpoint or .npz?), not a %s file; %s",
				    name, weights ? "safetensors" : ".npy or safetensors", save);
	}
	if (len >= 2 && buf[0] == 0x80 && buf[1] >= 2 && buf[1] <= 5)
		return rq_error_set(RQ_EINVALID, "%s: a Python pickle (protocol %u; a PyTorch checkpoint in "
				    "torch.save's legacy format?), not a %s file; %s",
				    name, (unsigned)buf[1], weights ? "safetensors" : ".npy or safetensors", save);
	return 0;
}
