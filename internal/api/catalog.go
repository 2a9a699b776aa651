package api

func (s *Server) catalogRoutes() []Route {
	return nil
}
